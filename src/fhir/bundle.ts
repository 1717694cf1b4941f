/**
 * Searchset Bundles with paging links (http://hl7.org/fhir/R4/bundle.html, http.html#paging). The
 * caller supplies absolute URLs (this folder does no HTTP); the Bundle's labels are the highest of its
 * entries (security-labels.ts).
 */
import type { EmittedResource, Meta } from "./resource-types.js";
import { bundleLabels } from "./security-labels.js";

export interface BundleLink {
  readonly relation: "self" | "next" | "previous" | "first";
  readonly url: string;
}

export interface SearchsetBundle<R extends EmittedResource> {
  readonly resourceType: "Bundle";
  readonly meta: Meta;
  readonly type: "searchset";
  readonly timestamp: string;
  readonly total?: number;
  readonly link: readonly BundleLink[];
  readonly entry?: readonly {
    readonly fullUrl: string;
    readonly resource: R;
    readonly search: { readonly mode: "match" };
  }[];
}

export interface SearchsetInput<R extends EmittedResource & { readonly id: string }> {
  /** The service base, e.g. `https://host:8443/fhir` (no trailing slash). */
  readonly base: string;
  readonly resources: readonly R[];
  readonly links: readonly BundleLink[];
  readonly timestamp: string;
  /** Only when the count is known without a second pass. */
  readonly total?: number;
}

export function searchsetBundle<R extends EmittedResource & { readonly id: string }>(
  input: SearchsetInput<R>,
): SearchsetBundle<R> {
  return {
    resourceType: "Bundle",
    meta: {
      lastUpdated: input.timestamp,
      security: bundleLabels(input.resources.map((r) => r.meta.security)),
    },
    type: "searchset",
    timestamp: input.timestamp,
    ...(input.total !== undefined ? { total: input.total } : {}),
    link: input.links,
    ...(input.resources.length > 0
      ? {
          entry: input.resources.map((resource) => ({
            fullUrl: `${input.base}/${resource.resourceType}/${resource.id}`,
            resource,
            search: { mode: "match" as const },
          })),
        }
      : {}),
  };
}
