/**
 * Stand-in for a task whose feature has not landed yet: says so and fails, never pretends.
 */
const [task, issue] = Deno.args;
console.error(`\`deno task ${task}\` is not built yet (tracked in issue ${issue}).`);
Deno.exit(1);
