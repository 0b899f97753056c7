// The official TypeScript MCP SDK client, driven by the Python tests (see test_ts_client.py).
//
// Usage: node client.mjs '<spec as JSON>'
//   spec = {transport: "http", url} | {transport: "stdio", command, args, env, cwd}
//          plus steps: [{op: "server"} | {op: "list"} | {op: "call", name, args, options} | {op: "poll", name, args}]
// "server" reports the serverInfo of the handshake (name, title, icons, ...).
// One JSON line per event on stdout: {step, progress} while a call runs, then {step, ok, result}
// or {step, ok: false, code, message}. "poll" calls the tool, then qwen_code_interpreter_result
// with the run_id until the result is no longer a pending run (as a model would), reporting
// {step, polls} and the final result.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const spec = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const transport =
  spec.transport === "http"
    ? new StreamableHTTPClientTransport(new URL(spec.url))
    : new StdioClientTransport({ command: spec.command, args: spec.args, env: spec.env, cwd: spec.cwd, stderr: "inherit" });
const client = new Client({ name: "qwen-ci-tool-ts-test", version: "0" });
await client.connect(transport);

async function call(step, name, args, options) {
  const onprogress = (p) => emit({ step, progress: p.message ?? null });
  try {
    const result = await client.callTool({ name, arguments: args }, undefined, { onprogress, ...options });
    emit({ step, ok: true, result });
    return result;
  } catch (error) {
    emit({ step, ok: false, code: error.code ?? null, message: String(error.message ?? error) });
    return null;
  }
}

for (const [step, s] of spec.steps.entries()) {
  if (s.op === "server") {
    emit({ step, ok: true, result: client.getServerVersion() });
  } else if (s.op === "list") {
    emit({ step, ok: true, result: await client.listTools() });
  } else if (s.op === "call") {
    await call(step, s.name, s.args, s.options ?? {});
  } else if (s.op === "poll") {
    let result = await call(step, s.name, s.args, s.options ?? {});
    let polls = 0;
    while (result && result.structuredContent && result.structuredContent.status === "running") {
      polls += 1;
      result = await call(step, "qwen_code_interpreter_result", { run_id: result.structuredContent.run_id }, {});
    }
    emit({ step, polls });
  }
}
await client.close();
