// nats-server for tests: src/local (shared with the local mode).
export { startNats, type NatsServer } from "../../src/local/index.js";
