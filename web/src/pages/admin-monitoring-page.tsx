export function AdminMonitoringPage() {
  return <main id="main">AdminMonitoringPage</main>;
}
