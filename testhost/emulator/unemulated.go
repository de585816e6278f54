package emulator

import "strings"

// unemulatedCommands lists the Dokku 0.38.27 commands, from the core plugins'
// subcommand directories and Go subcommand switches, that the emulator does
// not implement. Calling one fails with a message saying so, instead of the
// "is not a dokku command" error a real host never prints for them. The
// vhosts plugins use their short names (nginx:, caddy:, ...) and the
// events plugin its command name, as /usr/bin/dokku maps them.
var unemulatedCommands = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`
	app-json:report app-json:set apps:clone apps:set builder-dockerfile:report
	builder-dockerfile:set builder-herokuish:report builder-herokuish:set
	builder-lambda:report builder-lambda:set builder-nixpacks:report
	builder-nixpacks:set builder-pack:report builder-pack:set
	builder-railpack:report builder-railpack:set builder:report builder:set
	buildpacks:add buildpacks:clear buildpacks:detect buildpacks:list
	buildpacks:remove buildpacks:report buildpacks:set buildpacks:set-property
	builds:info builds:output builds:prune builds:report
	builds:set caddy:logs caddy:report caddy:set caddy:show-config caddy:start
	caddy:stop certs:add certs:generate certs:remove certs:report certs:show
	certs:update checks:disable checks:enable checks:report checks:run
	checks:set checks:skip cleanup config:bundle config:clear config:import
	cron:list cron:report cron:resume cron:run cron:set cron:suspend deploy
	docker-options:add docker-options:clear docker-options:list
	docker-options:remove docker-options:report domains:add-global
	domains:clear domains:clear-global domains:disable domains:enable
	domains:remove-global domains:reset domains:set-global domains:setup
	events:list events:off events:on git:allow-host git:auth git:auth-status
	git:from-archive git:generate-deploy-key git:initialize git:load-image
	git:public-key git:report git:set git:status git:unlock haproxy:logs
	haproxy:report haproxy:set haproxy:show-config haproxy:start haproxy:stop
	logs:failed logs:report logs:set logs:vector-logs logs:vector-start
	logs:vector-stop network:create network:destroy network:exists
	network:info network:list network:rebuild network:rebuildall
	network:report network:set nginx:access-logs nginx:error-logs nginx:reload
	nginx:report nginx:set nginx:show-conf nginx:show-config nginx:start
	nginx:stop nginx:validate nginx:validate-config openresty:logs
	openresty:report openresty:set openresty:show-config openresty:start
	openresty:stop plugin:disable plugin:enable plugin:install
	plugin:install-dependencies plugin:installed plugin:trigger
	plugin:uninstall plugin:update ports:add ports:clear ports:list
	ports:remove ports:report ports:set proxy:build-config proxy:clear-config
	proxy:disable proxy:enable proxy:report proxy:set ps:inspect ps:restore
	ps:retire ps:set registry:login registry:logout registry:report
	registry:set repo:gc repo:purge-cache report resource:limit
	resource:limit-clear resource:report resource:reserve
	resource:reserve-clear run:detached run:list run:logs run:retire run:stop
	scheduler-docker-local:report scheduler-docker-local:set
	scheduler-k3s:ensure-charts scheduler-k3s:initialize scheduler-k3s:preview
	scheduler-k3s:report scheduler-k3s:set scheduler-k3s:show-kubeconfig
	scheduler-k3s:uninstall scheduler:report scheduler:set
	storage:create storage:destroy storage:ensure-directory
	storage:exec storage:info storage:list storage:list-entries
	storage:migrate storage:mount storage:report storage:set storage:unmount
	storage:wait trace:off trace:on traefik:logs traefik:report traefik:set
	traefik:show-config traefik:start traefik:stop url urls`) {
		unemulatedCommands[name] = true
	}
}
