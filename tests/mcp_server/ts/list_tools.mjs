// The TypeScript MCP SDK's own client, over stdio: prints what the server and tools/list say, as JSON.
// Usage: node list_tools.mjs PYTHON [ARGS...]   (the server's environment comes from SERVER_ENV, JSON)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
const env = JSON.parse(process.env.SERVER_ENV ?? "{}");
const transport = new StdioClientTransport({ command, args, env, stderr: "inherit" });
const client = new Client({ name: "qwen-ci-tool-tests", version: "0.0.0" });
await client.connect(transport);
try {
  const listed = await client.listTools();
  process.stdout.write(JSON.stringify({ server: client.getServerVersion(), tools: listed.tools }));
} finally {
  await client.close();
}
