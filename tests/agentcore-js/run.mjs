// The AWS SDK for JavaScript v3's AgentCore client, unmodified, pointed at Airlock through
// its endpoint setting and an Airlock key. Prints one JSON line of what it saw; the e2e
// test (tests/e2e/test_agentcore.py) checks it.
import {
  BedrockAgentCoreClient,
  StartCodeInterpreterSessionCommand,
  InvokeCodeInterpreterCommand,
  GetCodeInterpreterSessionCommand,
  ListCodeInterpreterSessionsCommand,
  StopCodeInterpreterSessionCommand,
} from "@aws-sdk/client-bedrock-agentcore";

const client = new BedrockAgentCoreClient({
  region: "us-east-1",
  endpoint: process.env.AIRLOCK_URL,
  credentials: { accessKeyId: process.env.AIRLOCK_KEY_ID, secretAccessKey: process.env.AIRLOCK_KEY_SECRET },
  maxAttempts: 1,
});
const id = "aws.codeinterpreter.v1";
const out = {};

async function invoke(sessionId, name, args) {
  const r = await client.send(new InvokeCodeInterpreterCommand({ codeInterpreterIdentifier: id, sessionId, name, arguments: args }));
  const events = [];
  for await (const ev of r.stream) events.push(ev);
  return events;
}

const started = await client.send(new StartCodeInterpreterSessionCommand({ codeInterpreterIdentifier: id, name: "js", sessionTimeoutSeconds: 600 }));
const sid = started.sessionId;
out.sessionId = sid;
out.createdAt = started.createdAt instanceof Date;
let ev = await invoke(sid, "executeCode", { code: "console.log([1, 2, 3].reduce((a, b) => a + b))", language: "javascript" });
out.events = ev.length;
out.js = ev[0].result.structuredContent.stdout;
ev = await invoke(sid, "executeCode", { code: "print(6 * 7)", language: "python" });
out.python = ev[0].result.structuredContent.stdout;
ev = await invoke(sid, "executeCode", { code: "raise ValueError('boom')", language: "python" });
out.isError = ev[0].result.isError;
ev = await invoke(sid, "writeFiles", { content: [{ path: "js.txt", text: "from js" }] });
ev = await invoke(sid, "readFiles", { paths: ["js.txt"] });
out.read = ev[0].result.content[0].resource.text;
ev = await invoke(sid, "executeCommand", { command: "ls" });
out.ls = ev[0].result.structuredContent.stdout;
const got = await client.send(new GetCodeInterpreterSessionCommand({ codeInterpreterIdentifier: id, sessionId: sid }));
out.status = got.status;
const listed = await client.send(new ListCodeInterpreterSessionsCommand({ codeInterpreterIdentifier: id, maxResults: 100 }));
out.listed = listed.items.some((s) => s.sessionId === sid);
await client.send(new StopCodeInterpreterSessionCommand({ codeInterpreterIdentifier: id, sessionId: sid }));
try {
  await invoke(sid, "executeCode", { code: "1" });
  out.afterStop = "no error";
} catch (e) {
  out.afterStop = e.name;
}
const bad = new BedrockAgentCoreClient({
  region: "us-east-1",
  endpoint: process.env.AIRLOCK_URL,
  credentials: { accessKeyId: process.env.AIRLOCK_KEY_ID, secretAccessKey: "wrong" },
  maxAttempts: 1,
});
try {
  await bad.send(new ListCodeInterpreterSessionsCommand({ codeInterpreterIdentifier: id }));
  out.badSignature = "accepted";
} catch (e) {
  out.badSignature = e.name;
}
console.log(JSON.stringify(out));
