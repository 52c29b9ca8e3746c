/**
 * Runs the project's tasks as a user would, with the exact permissions deno.json grants them.
 * The implementation moved to src/tasks.ts so the benchmark harness shares it.
 */
export {
  consumeArgs,
  type ConsumeRun,
  freePort,
  ROOT,
  runTask,
  spawnTask,
  taskArgs,
  type TaskResult,
} from "../../src/tasks.ts";
