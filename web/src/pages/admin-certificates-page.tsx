export function AdminCertificatesPage() {
  return <main id="main">AdminCertificatesPage</main>;
}
