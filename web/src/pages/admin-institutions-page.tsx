export function AdminInstitutionsPage() {
  return <main id="main">AdminInstitutionsPage</main>;
}
