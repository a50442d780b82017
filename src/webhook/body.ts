// Reads a JSON request body with a size limit. Leaner than body-parser (no charset sniffing, no
// stream pipeline), which matters on the admission hot path; every failure is a typed HTTP error.

import type { IncomingMessage } from "node:http";

export class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, message: string) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

function isJson(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/json" || (mediaType?.endsWith("+json") ?? false);
}

export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!isJson(req.headers["content-type"])) {
      reject(
        new HttpError(
          415,
          "unsupported.media.type",
          `content-type ${String(req.headers["content-type"])} is not application/json`,
        ),
      );
      return;
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limitBytes) {
      reject(
        new HttpError(
          413,
          "entity.too.large",
          `body of ${declared} bytes exceeds the limit of ${limitBytes}`,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        req.off("data", onData);
        reject(
          new HttpError(413, "entity.too.large", `body exceeds the limit of ${limitBytes} bytes`),
        );
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("error", reject);
    req.once("end", () => {
      if (size > limitBytes) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString("utf8")));
      } catch (error) {
        reject(
          new HttpError(400, "entity.parse.failed", `malformed JSON: ${(error as Error).message}`),
        );
      }
    });
  });
}
