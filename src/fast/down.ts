// The `down` command's own CommonJS bundle (dist/fast/down.cjs, see src/entry.ts): the CLI, with
// the command's module imported here so that the code cache made at build time holds its code.
import "../commands/down.js";
export { main, quietOnBrokenPipe } from "../cli.js";
