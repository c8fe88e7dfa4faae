// `podwarden images`: its declaration (see options.ts); images.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const IMAGES = declareCommand({
  name: "images",
  summary: "pull or build every image the pod needs that is missing, with progress",
  options: { config: SHARED.config, socket: SHARED.socket, json: SHARED.json },
  exits: ["podman", "config"],
});
