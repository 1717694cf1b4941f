/**
 * The office's pages show institutions by name, never by internal ID: one read of the institution list,
 * and a look-up that falls back to the ID only for an institution the list does not have.
 */
import { useEffect, useState } from "preact/hooks";
import type { Api } from "./api.js";
import type { Institution } from "./types.js";

export function useInstitutionNames(api: Api): (id: string) => string {
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  useEffect(() => {
    api
      .get<{ institutions: Institution[] }>("/api/v1/admin/institutions")
      .then((r) => {
        setNames(new Map(r.institutions.map((i) => [i.id, i.name])));
      })
      .catch(() => undefined);
  }, [api]);
  return (id) => names.get(id) ?? id;
}
