// Loopback helpers shared with src/local.
export { freePort, waitFor } from "../../src/local/index.js";
