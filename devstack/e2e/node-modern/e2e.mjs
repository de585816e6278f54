// End-to-end client written with the MCP TypeScript client 2.x. It pins the
// 2026-07-28 protocol, so it sends no initialize, and every request carries
// its protocol version and client info in _meta. It fetches an access token with
// the client-credentials grant, lists the tools, creates an app, sets a
// config value full of characters that a shell or Dokku's tokenizer would
// mangle, reads it back and lists the apps. It prints one JSON object with
// what it saw and exits non-zero on failure.
//
// It also lists the resource templates, reads the app's report resource,
// gets the diagnose_app prompt, and calls a tool of every other family
// (families.mjs), deploying the app with deploy_create and wait=true.
//
// Environment: MCP_URL, TOKEN_URL, CLIENT_ID, CLIENT_SECRET, APP, HOST, CONFIG_VALUE.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { callEveryFamily } from "../families.mjs";

const PROTOCOL_VERSION = "2026-07-28";

function required(name) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`missing environment variable ${name}`);
  }
  return value;
}

async function fetchToken(tokenURL, clientID, clientSecret, resource) {
  const body = new URLSearchParams({ grant_type: "client_credentials", resource });
  const basic = Buffer.from(`${encodeURIComponent(clientID)}:${encodeURIComponent(clientSecret)}`).toString("base64");
  const response = await fetch(tokenURL, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${basic}` },
    body,
  });
  const json = await response.json();
  if (!response.ok) {
    throw new Error(`token request failed with status ${response.status}: ${json.error}`);
  }
  return json.access_token;
}

function structured(result, tool) {
  if (result.isError) {
    const text = result.content?.map((c) => c.text).join(" ");
    throw new Error(`${tool} returned an error: ${text}`);
  }
  return result.structuredContent;
}

async function main() {
  const mcpURL = required("MCP_URL");
  const app = required("APP");
  const host = required("HOST");
  const configValue = process.env.CONFIG_VALUE ?? "";
  const token = await fetchToken(required("TOKEN_URL"), required("CLIENT_ID"), required("CLIENT_SECRET"), mcpURL);

  // Record every JSON-RPC method the client sends, to prove it never
  // initializes.
  const methods = [];
  const recordingFetch = async (input, init) => {
    if (typeof init?.body === "string") {
      try {
        const message = JSON.parse(init.body);
        for (const m of Array.isArray(message) ? message : [message]) {
          if (m.method) methods.push(m.method);
        }
      } catch {
        // Not JSON-RPC; nothing to record.
      }
    }
    return fetch(input, init);
  };

  const transport = new StreamableHTTPClientTransport(new URL(mcpURL), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: recordingFetch,
  });
  const client = new Client(
    { name: "dokkumcp-e2e-node-modern", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: PROTOCOL_VERSION } } },
  );
  await client.connect(transport);

  const { tools } = await client.listTools();
  const created = structured(await client.callTool({ name: "apps_create", arguments: { app } }), "apps_create");
  structured(await client.callTool({ name: "config_set", arguments: { app, vars: { E2E_VALUE: configValue }, no_restart: true } }), "config_set");
  const read = structured(await client.callTool({ name: "config_get", arguments: { app, key: "E2E_VALUE" } }), "config_get");
  const list = structured(await client.callTool({ name: "apps_list", arguments: {} }), "apps_list");
  const { resourceTemplates } = await client.listResourceTemplates();
  const resource = await client.readResource({ uri: `dokku://hosts/${host}/apps/${app}` });
  const prompt = await client.getPrompt({ name: "diagnose_app", arguments: { host, app } });
  const families = await callEveryFamily(
    async (name, args) => structured(await client.callTool({ name, arguments: args }), name),
    async (args, onprogress) => structured(await client.callTool({ name: "deploy_create", arguments: args }, { onprogress, resetTimeoutOnProgress: true }), "deploy_create"),
    app,
  );
  const protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  await client.close();

  process.stdout.write(JSON.stringify({
    protocolVersion,
    methods: [...new Set(methods)].sort(),
    tools: tools.map((t) => t.name).sort(),
    created: created.app,
    value: read.value,
    apps: list.apps,
    templates: resourceTemplates.map((t) => t.uriTemplate).sort(),
    resource: {
      uri: resource.contents[0]?.uri,
      mimeType: resource.contents[0]?.mimeType,
      app: JSON.parse(resource.contents[0]?.text ?? "{}").app,
    },
    prompt: prompt.messages.map((m) => m.content.text).join("\n"),
    families,
  }));
}

main().catch((err) => {
  process.stderr.write(`e2e.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
});
