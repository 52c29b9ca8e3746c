import assert from "node:assert/strict";
import { FAULT_ENV, FAULT_MARK, parseFaults } from "./fault_point.ts";

Deno.test("fault point: specs parse; a malformed one is refused with the expected form", () => {
  assert.deepEqual(parseFaults("crash-after:silver-commit:3, crash-during:commit-put:12"), [
    { when: "after", point: "silver-commit", n: 3 },
    { when: "during", point: "commit-put", n: 12 },
  ]);
  assert.throws(() => parseFaults("crash-after:silver-commit:0"), /crash-<when>:<point>:<n>/);
  assert.throws(() => parseFaults("after:silver-commit:1"), /SMARTTECH_FAULT/);
});

Deno.test("fault point: freezes at its n-th hit (not before), announces it, and dies by SIGKILL", async () => {
  const code = `import { faultPoint } from ${
    JSON.stringify(new URL("./fault_point.ts", import.meta.url).href)
  };
for (let i = 1; i <= 3; i++) { faultPoint("silver-commit", "after"); console.log("passed", i); }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-env=${FAULT_ENV}`, "-"],
    env: { [FAULT_ENV]: "crash-after:silver-commit:2" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(code));
  await w.close();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!err.includes(FAULT_MARK)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  assert.match(err, /FAULT POINT reached: crash-after:silver-commit:2 \(pid \d+\)/);
  child.kill("SIGKILL");
  reader.cancel();
  const out = await new Response(child.stdout).text();
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  assert.equal(out, "passed 1\n", "nothing ran after the frozen point");
});
