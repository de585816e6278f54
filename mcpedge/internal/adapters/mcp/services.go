package mcp

import (
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// addServiceTools registers the tools for postgres and redis services and
// Let's Encrypt certificates. Each needs the Dokku plugin on the host; a
// host without it fails the call with a message naming the install command.
func addServiceTools(s *mcpserver.MCPServer, tools *app.Tools, h handler) {
	hostArg := mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern))
	appArg := mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255))
	kindArg := mcp.WithString("kind", mcp.Required(), mcp.Description("The service type: postgres or redis."), mcp.Enum(app.ServiceKinds...))
	nameArg := mcp.WithString("name", mcp.Required(),
		mcp.Description("Name of the service, for example \"shop-db\": letters, digits, underscores and dashes, not starting with a dash."),
		mcp.Pattern(domain.ServiceNamePattern), mcp.MaxLength(domain.MaxServiceNameLength))
	confirmServiceArg := mcp.WithString("confirm", mcp.Required(), mcp.Description("The service's name again, to confirm. Ask the user before setting it."))
	noRestartArg := mcp.WithBoolean("no_restart", mcp.Description("Skip the restart of a deployed app; it sees the change at its next restart or deploy."))
	readOnly := []mcp.ToolOption{
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true), mcp.WithOpenWorldHintAnnotation(false),
	}
	with := func(options []mcp.ToolOption, more ...mcp.ToolOption) []mcp.ToolOption {
		return append(append([]mcp.ToolOption{}, more...), options...)
	}

	s.AddTool(mcp.NewTool(domain.ToolServicesList, with(readOnly,
		mcp.WithTitleAnnotation("List services"),
		mcp.WithDescription("Lists the postgres or redis services on a Dokku host. Use it to find a service's name before services_info, "+
			"services_link or services_destroy. Returns {kind, names}; an empty list means there is none of that kind yet (create one with services_create). "+
			"If the call says the plugin is not installed, tell the user that the host's administrator must install it."),
		hostArg, kindArg,
		mcp.WithOutputSchema[app.ServiceList](),
	)...), handle(h, domain.ToolServicesList, tools.ListServices))

	s.AddTool(mcp.NewTool(domain.ToolServicesInfo, with(readOnly,
		mcp.WithTitleAnnotation("Show a service"),
		mcp.WithDescription("Shows a postgres or redis service: its status (running, exited, missing), image version, linked apps and DSN. "+
			"The DSN's password is replaced by ******** unless reveal is true; reveal only when the user needs the password, "+
			"and it needs the permission to reveal config values. Returns {kind, name, status, version, dsn, dsn_redacted, links, exposed_ports, fields}. "+
			"If the service is not found, check its name with services_list."),
		hostArg, kindArg, nameArg,
		mcp.WithBoolean("reveal", mcp.Description("Return the DSN with its password.")),
		mcp.WithOutputSchema[app.ServiceInfo](),
	)...), handle(h, domain.ToolServicesInfo, tools.ServiceInfo))

	s.AddTool(mcp.NewTool(domain.ToolServicesCreate,
		mcp.WithTitleAnnotation("Create a service"),
		mcp.WithDescription("Creates a postgres database or a redis instance on a Dokku host, running in its own container. "+
			"Use it when an app needs a database or cache, then connect them with services_link. "+
			"Returns {info, warnings}; info.dsn has its password redacted. If the name is taken, pick another or use the existing service."),
		hostArg, kindArg, nameArg,
		mcp.WithOutputSchema[app.ServiceCreated](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolServicesCreate, tools.CreateService))

	s.AddTool(mcp.NewTool(domain.ToolServicesLink,
		mcp.WithTitleAnnotation("Link a service to an app"),
		mcp.WithDescription("Links a postgres or redis service to an app: Dokku sets DATABASE_URL (postgres) or REDIS_URL (redis) on the app, "+
			"or DOKKU_POSTGRES_<COLOR>_URL / DOKKU_REDIS_<COLOR>_URL when that name is taken, and restarts a deployed app unless no_restart is true. "+
			"Returns {app, config_key, warnings}; config_key names the config var that now holds the connection URL. "+
			"If the service is already linked, nothing changes and the call says under which config var."),
		hostArg, kindArg, nameArg, appArg, noRestartArg,
		mcp.WithOutputSchema[app.ServiceLinked](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolServicesLink, tools.LinkService))

	s.AddTool(mcp.NewTool(domain.ToolServicesUnlink,
		mcp.WithTitleAnnotation("Unlink a service from an app"),
		mcp.WithDescription("Unlinks a postgres or redis service from an app and removes the config var that held its URL, "+
			"so the app loses its connection to the service; the service and its data stay. Dokku restarts a deployed app unless no_restart is true. "+
			"Set confirm to the service's name after the user agrees. Returns {app, unset_keys, warnings}. "+
			"If the service is not linked to the app, services_info lists the apps it is linked to."),
		hostArg, kindArg, nameArg, appArg, confirmServiceArg, noRestartArg,
		mcp.WithOutputSchema[app.ServiceUnlinked](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolServicesUnlink, tools.UnlinkService))

	s.AddTool(mcp.NewTool(domain.ToolServicesDestroy,
		mcp.WithTitleAnnotation("Destroy a service"),
		mcp.WithDescription("Destroys a postgres or redis service with its container and all its data; this cannot be undone. "+
			"Use it only when the user clearly asks, and set confirm to the service's name after they confirm. "+
			"Dokku refuses while apps are linked: unlink them first with services_unlink. Returns {name, warnings}."),
		hostArg, kindArg, nameArg, confirmServiceArg,
		mcp.WithOutputSchema[app.ServiceDestroyed](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolServicesDestroy, tools.DestroyService))

	s.AddTool(mcp.NewTool(domain.ToolLetsencryptReport, with(readOnly,
		mcp.WithTitleAnnotation("Show an app's TLS certificate"),
		mcp.WithDescription("Shows whether an app serves a Let's Encrypt certificate, when it expires, and the e-mail address and ACME server used. "+
			"Use it before letsencrypt_enable or to check a renewal. Returns {app, active, autorenew, email, server, expires_at, fields}. "+
			"If the call says the plugin is not installed, tell the user that the host's administrator must install dokku-letsencrypt."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.LetsencryptReport](),
	)...), handle(h, domain.ToolLetsencryptReport, tools.LetsencryptReport))

	s.AddTool(mcp.NewTool(domain.ToolLetsencryptEnable,
		mcp.WithTitleAnnotation("Enable HTTPS with Let's Encrypt"),
		mcp.WithDescription("Requests a Let's Encrypt certificate for an app's domains and serves it, or renews it when it is close to expiry. "+
			"The app needs at least one domain (add it with domains_add) whose DNS points at the host, and an e-mail address: "+
			"pass email the first time. Returns {app, changed, report, warnings}; changed is false when the certificate was still valid. "+
			"It can take a minute."),
		hostArg, appArg,
		mcp.WithString("email", mcp.Description("E-mail address for Let's Encrypt expiry notices, stored for the app, for example \"ops@example.com\"."),
			mcp.Pattern(domain.EmailPattern), mcp.MaxLength(domain.MaxEmailLength)),
		mcp.WithOutputSchema[app.LetsencryptEnabled](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(true),
	), handle(h, domain.ToolLetsencryptEnable, tools.EnableLetsencrypt))

	s.AddTool(mcp.NewTool(domain.ToolLetsencryptDisable,
		mcp.WithTitleAnnotation("Disable Let's Encrypt"),
		mcp.WithDescription("Removes an app's Let's Encrypt certificate and its HTTPS endpoint; the app is served over plain HTTP afterwards. "+
			"Use it only when the user asks, and set confirm to the app's name after they agree. Returns {app, warnings}."),
		hostArg, appArg,
		mcp.WithString("confirm", mcp.Required(), mcp.Description(confirmDescription)),
		mcp.WithOutputSchema[app.LetsencryptDisabled](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolLetsencryptDisable, tools.DisableLetsencrypt))
}
