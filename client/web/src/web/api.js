// The control plane's HTTPS login API (register, login → JWT, characters, play → PlayTicket).

async function call(base, path, { method = 'GET', body, jwt } = {}) {
  const headers = { Accept: 'application/json' };
  if (body) headers['Content-Type'] = 'application/json';
  if (jwt) headers.Authorization = `Bearer ${jwt}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const message = json?.message ?? json?.error ?? (text || response.statusText);
    throw new Error(`${method} ${path}: ${response.status} ${message}`);
  }
  return json;
}

export const api = {
  register: (base, name, password) => call(base, '/auth/register', { method: 'POST', body: { name, password } }),
  login: (base, name, password) => call(base, '/auth/login', { method: 'POST', body: { name, password } }),
  characters: (base, jwt) => call(base, '/characters', { jwt }),
  createCharacter: (base, jwt, name) => call(base, '/characters', { method: 'POST', jwt, body: { name } }),
  play: (base, jwt, id) => call(base, `/characters/${id}/play`, { method: 'POST', jwt }),
};

/** Standard or URL-safe base64 → bytes. */
export function base64Bytes(text) {
  const clean = text.replace(/-/g, '+').replace(/_/g, '/').replace(/\s+/g, '');
  const padded = clean + '='.repeat((4 - (clean.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** A play ticket from `#ticket=<base64 of the ticket's JSON>` (so a test can skip the form), or null. */
export function ticketFromHash(hash) {
  const match = /(?:^#|&)ticket=([^&]+)/.exec(hash);
  if (!match) return null;
  return JSON.parse(new TextDecoder().decode(base64Bytes(decodeURIComponent(match[1]))));
}
