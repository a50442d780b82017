export * from "./device-plugin-api.js";
