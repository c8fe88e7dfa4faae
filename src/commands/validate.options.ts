// `podwarden validate`: its declaration (see options.ts); validate.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const VALIDATE = declareCommand({
  name: "validate",
  summary: "check the config and env file; exit 0, or 78 naming every problem",
  options: { config: SHARED.config, json: SHARED.json },
  exits: ["config"],
});
