// Lint rules, including the import boundaries of DESIGN.md §2, so the architecture is checked.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const only = (pkg, where) => ({
  name: pkg,
  message: `${pkg} may only be imported from ${where} (DESIGN.md §2).`,
});

const outsideDomain = ["dockerode", "docker-modem", "fastify", "node-cron", "pino", "prom-client", "yaml", "dotenv", "unix-dgram"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        {
          paths: [
            only("dockerode", "src/runtime/"),
            only("docker-modem", "src/runtime/"),
            only("fastify", "src/http/"),
            only("node-cron", "src/jobs/"),
            only("pino", "src/observability/logger.ts"),
            only("unix-dgram", "src/systemd/"),
          ],
        },
      ],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read process.env only in src/config/ (and the composition roots)." },
      ],
    },
  },
  {
    files: ["src/domain/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: outsideDomain.map((p) => ({ name: p, message: "src/domain/ is pure: no I/O packages." })),
          patterns: [
            { group: ["../*", "!../domain/*"], message: "src/domain/ imports nothing outside itself." },
            { group: ["node:*"], message: "src/domain/ is pure: no node: modules (spec-hash.ts may use node:crypto)." },
          ],
        },
      ],
    },
  },
  { files: ["src/domain/spec-hash.ts"], rules: { "no-restricted-imports": "off" } },
  {
    files: ["src/render/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: outsideDomain.filter((p) => p !== "yaml").map((p) => ({ name: p, message: "src/render/ is pure: spec in, text out." })),
          patterns: [
            { regex: "^\\.\\./(?!domain/)", message: "src/render/ imports only src/domain/." },
            { regex: "^node:(?!path/posix$)", message: "src/render/ is pure: no I/O (node:path/posix only)." },
          ],
        },
      ],
    },
  },
  { files: ["src/runtime/**"], rules: { "no-restricted-imports": ["error", { paths: [only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/http/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/observability/logger.ts"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/jobs/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("docker-modem", "src/runtime/"), only("fastify", "src/http/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/systemd/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("docker-modem", "src/runtime/"), only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts")] }] } },
  { files: ["src/config/**", "src/cli.ts", "src/main.ts", "test/**", "bench/**"], rules: { "no-restricted-properties": "off" } },
  { files: ["test/**", "bench/**"], rules: { "no-restricted-imports": "off" } },
);
