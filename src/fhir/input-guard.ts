/**
 * FHIR input the service accepts is checked before anything reads it (N1, N3): narrative `div`s must
 * use only the FHIR XHTML whitelist (elements and attributes, http://hl7.org/fhir/R4/narrative.html#xhtml),
 * and nothing anywhere may carry script: no `<script>` or other forbidden element, no event attribute
 * (`on…`), no `javascript:` / `data:` / `vbscript:` URL (also when written with entities or control
 * characters), no `url(` or `expression(` in a style, and no external reference — a link, image or
 * Reference.reference / Attachment.url that points outside the resource. Refusals are coded errors
 * (FHIR_INPUT_UNSAFE) naming the element's path, answered as OperationOutcome.
 */
import { FhirError } from "./errors.js";

/** http://hl7.org/fhir/R4/narrative.html#xhtml — elements allowed in a narrative. */
const ELEMENTS = new Set(
  (
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em h1 h2 h3 h4 h5 h6 " +
    "hr i img li ol p pre q samp small span strong sub sup table tbody td tfoot th thead tr tt ul var"
  ).split(" "),
);

/** Attributes allowed in a narrative (the spec's list; `xmlns` on the root). */
const ATTRIBUTES = new Set(
  (
    "abbr accesskey align alt axis bgcolor border cellhalign cellpadding cellspacing cellvalign char charoff " +
    "charset cite class colspan compact coords dir frame headers height href hreflang hspace id lang longdesc " +
    "name nowrap rel rev rowspan rules scope shape span src start style summary tabindex title type valign " +
    "value vspace width xmlns xml:lang"
  ).split(" "),
);

/** Markup that is never acceptable in any string of a FHIR input. */
const DANGEROUS_MARKUP =
  /<\s*\/?\s*(?:script|iframe|frame|frameset|object|embed|applet|form|input|button|textarea|select|base|link|meta|style|svg|math|body|head|html|template|noscript|xml)\b/i;

const MAX_DEPTH = 64;
const MAX_STRINGS = 100_000;

const unsafe = (path: string, why: string): FhirError =>
  new FhirError("FHIR_INPUT_UNSAFE", `安全でない内容を含むため受け付けません: ${path} (${why})`, {
    path,
    why,
  });

/** Decodes numeric and the common named character references, as a browser would before use. */
function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]{1,6});?/gi, (_m, hex: string) =>
      String.fromCodePoint(Math.min(Number.parseInt(hex, 16), 0x10ffff)),
    )
    .replace(/&#(\d{1,7});?/g, (_m, dec: string) =>
      String.fromCodePoint(Math.min(Number.parseInt(dec, 10), 0x10ffff)),
    )
    .replace(
      /&(colon|tab|newline|lpar|rpar|quot|apos|lt|gt|amp);/gi,
      (_m, name: string) =>
        ({
          colon: ":",
          tab: "\t",
          newline: "\n",
          lpar: "(",
          rpar: ")",
          quot: '"',
          apos: "'",
          lt: "<",
          gt: ">",
          amp: "&",
        })[name.toLowerCase() as "colon"],
    );
}

/** The URL scheme as a browser reads it: entities decoded, controls and whitespace dropped, lower case. */
function schemeOf(value: string): string | undefined {
  const cleaned = decodeEntities(value)
    // eslint-disable-next-line no-control-regex -- browsers ignore these inside a URL scheme
    .replace(/[\u0000-\u0020\u007f-\u009f]/g, "")
    .toLowerCase();
  return /^([a-z][a-z0-9+.-]*):/.exec(cleaned)?.[1];
}

/** A narrative link or image may only point inside the resource (`#id`). */
function checkUrlAttribute(path: string, name: string, value: string): void {
  const decoded = decodeEntities(value).trim();
  if (schemeOf(decoded) !== undefined || decoded.startsWith("//") || !decoded.startsWith("#")) {
    throw unsafe(path, `${name} は文書内の参照 (#…) だけです`);
  }
}

function checkStyle(path: string, value: string): void {
  const decoded = decodeEntities(value).replace(/\\/g, "").toLowerCase();
  if (/url\s*\(|expression\s*\(|@import|behavior\s*:|-moz-binding/.test(decoded)) throw unsafe(path, "style");
}

/** Checks one narrative `div` against the whitelist. */
export function checkNarrativeDiv(path: string, div: string): void {
  if (/<!|<\?/.test(div)) throw unsafe(path, "コメント・CDATA・処理命令");
  const tag = /<\s*(\/?)\s*([^\s/>]+)([^>]*)>/g;
  let m: RegExpExecArray | null;
  let first = true;
  while ((m = tag.exec(div)) !== null) {
    const name = (m[2] ?? "").toLowerCase();
    if (!ELEMENTS.has(name)) throw unsafe(path, `要素 <${name.slice(0, 20)}>`);
    if (first && name !== "div") throw unsafe(path, "最初の要素は div です");
    first = false;
    if (m[1] === "/") continue;
    const attrs = m[3] ?? "";
    const attr = /([^\s=/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g;
    let a: RegExpExecArray | null;
    while ((a = attr.exec(attrs)) !== null) {
      const attrName = (a[1] ?? "").toLowerCase();
      const raw = a[2] ?? "";
      const value = raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1) : raw;
      if (attrName.startsWith("on")) throw unsafe(path, `イベント属性 ${attrName.slice(0, 20)}`);
      if (!ATTRIBUTES.has(attrName)) throw unsafe(path, `属性 ${attrName.slice(0, 20)}`);
      if (attrName === "xmlns" && value !== "http://www.w3.org/1999/xhtml") throw unsafe(path, "xmlns");
      if (attrName === "href" || attrName === "src" || attrName === "longdesc" || attrName === "cite") {
        checkUrlAttribute(path, attrName, value);
      }
      if (attrName === "style") checkStyle(path, value);
    }
  }
  // A '<' that did not start a tag the scanner read (e.g. "<scr<script>") is refused too.
  if ((div.match(/</g) ?? []).length !== (div.match(/<\s*\/?\s*[^\s/>]+[^>]*>/g) ?? []).length) {
    throw unsafe(path, "タグの形式");
  }
}

function checkString(path: string, key: string, value: string): void {
  // Outside a narrative a string is text: markup in it is refused as written (entities stay text).
  if (DANGEROUS_MARKUP.test(value)) throw unsafe(path, "禁止された要素");
  if (/<[^>]*\son[a-z]+\s*=/i.test(value)) throw unsafe(path, "イベント属性");
  const scheme = schemeOf(value);
  const urlKey = key === "reference" || key === "url" || key === "fullUrl" || key === "system";
  if (
    scheme === "javascript" ||
    scheme === "vbscript" ||
    scheme === "livescript" ||
    (urlKey && scheme === "data")
  ) {
    throw unsafe(path, `${scheme}: URL`);
  }
  // External references: a Reference or an Attachment that points at another server.
  if (
    (key === "reference" || key === "url" || key === "fullUrl") &&
    (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith("//"))
  ) {
    throw unsafe(path, "外部への参照");
  }
}

/**
 * Checks a parsed FHIR JSON input.
 * @throws FhirError FHIR_INPUT_UNSAFE (with the path), FHIR_INPUT_INVALID (too deep or too large)
 */
export function checkFhirInput(input: unknown): void {
  let strings = 0;
  const walk = (value: unknown, path: string, key: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new FhirError("FHIR_INPUT_INVALID", "入れ子が深すぎます", { path });
    if (typeof value === "string") {
      if (++strings > MAX_STRINGS) throw new FhirError("FHIR_INPUT_INVALID", "値が多すぎます", {});
      if (key === "div") checkNarrativeDiv(path, value);
      else checkString(path, key, value);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, `${path}[${i}]`, key, depth + 1);
      });
      return;
    }
    if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        // Keys that start with "on" are fine (FHIR has onBehalfOf, onset[x]); markup in a key is not.
        if (k.includes("<") || k.includes(">")) throw unsafe(`${path}.${k.slice(0, 40)}`, "名前");
        walk(v, `${path}.${k}`, k, depth + 1);
      }
    }
  };
  const type = (input as { resourceType?: unknown } | null)?.resourceType;
  walk(input, typeof type === "string" && /^[A-Z][A-Za-z]{1,63}$/.test(type) ? type : "$", "", 0);
}
