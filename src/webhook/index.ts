// Public surface of webhook: the express app, the admission pipeline and HTTPS serving.

export { ADMISSION_PATHS, BODY_LIMIT_BYTES, createWebhookApp, notFound } from "./app.js";
export { HttpError, readJsonBody } from "./body.js";
export type { AppDeps } from "./app.js";
export { handleAdmission } from "./handler.js";
export type { AdmissionDeps, HandlerResult } from "./handler.js";
export { decodeReview } from "./review.js";
export { closeServer, serveHttps } from "./server.js";
export type { RunningServer, ServeOptions } from "./server.js";
