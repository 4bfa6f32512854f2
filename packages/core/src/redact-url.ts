/** URL schemes whose lone userinfo (`nats://token@host`) is a secret token, not a user name. */
const TOKEN_SCHEMES = new Set(["nats", "tls"]);

const USERINFO = /\b([a-z][a-z0-9+.-]*):\/\/([^/?#\s]*)@/gi;
const SECRET_PARAMETER = /([?&][^=&#\s]*(?:password|token|secret)[^=&#\s]*=)[^&#\s]*/gi;

/**
 * `text` (a URL, or a message or log line holding URLs) with every password, NATS token and secret
 * query parameter (`sentinelPassword`, pg's `password`...) replaced by "***". Every package passes
 * URLs through it before printing them or putting them in an error.
 */
export function redactUrl(text: string): string {
  return text
    .replace(USERINFO, (whole, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      if (colon !== -1) return `${scheme}://${userinfo.slice(0, colon)}:***@`;
      return TOKEN_SCHEMES.has(scheme.toLowerCase()) ? `${scheme}://***@` : whole;
    })
    .replace(SECRET_PARAMETER, "$1***");
}
