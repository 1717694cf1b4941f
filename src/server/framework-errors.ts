/**
 * Answers for requests that never reach a route: a URL Fastify's router cannot decode or whose path
 * parameter is over-long (frameworkErrors), and bytes Node's HTTP parser refuses (clientErrorHandler).
 * Fastify's defaults answer these with their own JSON shape and echo the URL back; here they get the
 * same coded OperationOutcome and security headers as every other answer, and nothing of the request.
 */
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { operationOutcome as outcome } from "../fhir/operation-outcome.js";
import { toHttpError } from "./http-errors.js";
import { SECURITY_HEADERS } from "./security-headers.js";

export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toHttpError(error);
  // Sent outside the route context, so the onSend hook that adds these does not run.
  void reply
    .code(status)
    .headers(SECURITY_HEADERS)
    .header("content-type", "application/fhir+json; charset=utf-8")
    .send(body);
}

export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, reason, body] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [
          431,
          "Request Header Fields Too Large",
          outcome("REQUEST_TOO_LARGE", "too-long", "要求が大きすぎます"),
        ]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", outcome("REQUEST_MALFORMED", "invalid", "要求が時間内に届きませんでした")]
        : [400, "Bad Request", outcome("REQUEST_MALFORMED", "invalid", "要求の形式が正しくありません")];
  const json = JSON.stringify(body);
  if (socket.writable) {
    const headers = [
      `HTTP/1.1 ${status} ${reason}`,
      "content-type: application/fhir+json; charset=utf-8",
      `content-length: ${Buffer.byteLength(json)}`,
      "connection: close",
      ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${headers.join("\r\n")}\r\n\r\n${json}`);
  }
  socket.destroy();
}
