/** What the page's script needs to know, written into `data-` attributes of `<body>` (no inline script). */
export interface ConsolePageInput {
  /** The deployment whose console this is; absent on `/console`, the list of deployments. */
  deployment?: string;
  /** `proxy.path_prefix`, e.g. `/airflow`: the page calls `<prefix>/<deployment>/api/v2/...`. */
  proxyPrefix: string;
  /** Whether pages on other origins may frame this one (`console.frame_ancestors` not empty). */
  embeddable: boolean;
  /** On `/console`: the deployments that have a console (the page lists those the person has a role for). */
  consoles?: readonly string[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export const CONSOLE_ASSETS_PATH = '/console/_assets';

/** The console's HTML shell: the same for every person (the script asks `GET /session` who is there). */
export function consolePage(input: ConsolePageInput): string {
  const title = input.deployment ? `Airflow console: ${input.deployment}` : 'Airflow console';
  const data = [
    input.deployment === undefined ? '' : ` data-deployment="${escapeHtml(input.deployment)}"`,
    ` data-proxy-prefix="${escapeHtml(input.proxyPrefix)}"`,
    ` data-embeddable="${input.embeddable}"`,
    input.consoles === undefined ? '' : ` data-consoles="${escapeHtml(input.consoles.join(' '))}"`,
  ].join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${CONSOLE_ASSETS_PATH}/console.css">
<script type="module" src="${CONSOLE_ASSETS_PATH}/main.js"></script>
</head>
<body${data}>
<header class="top"><h1>${escapeHtml(title)}</h1><div id="who"></div></header>
<main id="app" tabindex="-1"><p>Loading...</p><noscript><p>The console needs JavaScript.</p></noscript></main>
</body>
</html>
`;
}
