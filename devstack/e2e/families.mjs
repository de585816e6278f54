// Calls at least one tool of every tool family against an app that exists
// and has no deployment yet, for the end-to-end clients in node/ and
// node-modern/, which use different SDKs. call(name, args) returns a tool's
// structured content and throws on an isError result. deploy(args,
// onprogress) calls deploy_create the same way and passes each progress
// notification to onprogress. The summary it returns is what the Go test
// checks.
export async function callEveryFamily(call, deploy, app) {
  const progress = [];
  const deployed = await deploy({ app, source: "image", image: "nginx:1.27", wait: true }, (p) => progress.push(p.message ?? ""));
  const status = await call("deploy_status", { id: deployed.id });
  const deployments = await call("deploy_list", { app });

  const ps = await call("ps_report", { app });
  const domains = await call("domains_add", { app, domains: [`${app}.example.com`] });
  const logs = await call("logs_get", { app, num: 10 });
  const ran = await call("run", { app, args: ["echo", "hi"] });
  const service = `${app}-db`;
  await call("services_create", { kind: "postgres", name: service });
  const services = await call("services_list", { kind: "postgres" });
  const tls = await call("letsencrypt_report", { app });
  const host = await call("host_info", {});

  // mcpedge appends audit events in the background, so poll the ledger
  // until the run above is there, for at most 30 seconds.
  const deadline = Date.now() + 30_000;
  let audit;
  for (;;) {
    audit = await call("audit_log", { operation: "mcpedge.run" });
    if (audit.events.length > 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    deploy: { id: deployed.id, status: deployed.status, progress: progress.length },
    deployStatus: status.status,
    deployments: deployments.deployments.map((d) => d.id),
    ps: { app: ps.app, deployed: ps.deployed },
    domains: domains.domains,
    logs: { lines: logs.lines.length, hint: logs.hint },
    run: { exitCode: ran.exit_code, stdout: ran.stdout },
    services: services.names,
    letsencrypt: { app: tls.app, active: tls.active },
    dokkuVersion: host.dokku_version,
    audit: audit.events.map((e) => e.operation),
  };
}
