// Image references by the grammar container registries and Podman use (the distribution project's
// reference grammar):
//
//   reference  = name [":" tag] ["@" digest]
//   name       = [domain "/"] path                      at most 255 characters
//   domain     = host [":" port]                        host: DNS labels joined by ".", or [IPv6]
//   path       = component ("/" component)*            component: [a-z0-9]+ joined by ".", "_", "__" or "-"+
//   tag        = [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest     = algorithm ":" hex                      algorithm: [A-Za-z][A-Za-z0-9]* joined by + . _ -; hex: 32+ [0-9a-fA-F]
//
// The first part of the name is a domain when it has a "." or ":", is "localhost", or has an
// uppercase letter (as the container tools decide). Pure.

export interface ImageRef {
  readonly domain?: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const NAME_MAX = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** The parts of `text`, or what is wrong with it (a sentence naming the part at fault). */
export function parseImageRef(text: string): ImageRef | string {
  if (text === "") return "is empty";
  if (/\s/.test(text)) return "has whitespace in it";
  const at = text.indexOf("@");
  const digest = at < 0 ? undefined : text.slice(at + 1);
  const rest = at < 0 ? text : text.slice(0, at);
  if (digest !== undefined && !DIGEST.test(digest)) return `digest ${show(digest)} is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)`;
  // A ":" after the last "/" starts the tag; one before it belongs to the domain's port.
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/");
  const name = hasTag ? rest.slice(0, colon) : rest;
  const tag = hasTag ? rest.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) return `tag ${show(tag)} is not letters, digits, "_", "." or "-" (at most 128, not starting with "." or "-")`;
  if (name === "") return "has no name";
  if (name.length > NAME_MAX) return `name is ${name.length} characters, more than ${NAME_MAX}`;
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const isDomain = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase());
  const domain = isDomain ? first : undefined;
  const path = isDomain ? name.slice(slash + 1) : name;
  if (domain !== undefined) {
    const problem = domainProblem(domain);
    if (problem !== undefined) return problem;
  }
  for (const component of path.split("/")) {
    if (!COMPONENT.test(component)) {
      return `path component ${show(component)} is not lowercase letters and digits joined by ".", "_", "__" or "-"`;
    }
  }
  return { ...(domain === undefined ? {} : { domain }), path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

function domainProblem(domain: string): string | undefined {
  const ipv6End = domain.startsWith("[") ? domain.indexOf("]") + 1 : 0;
  const colon = domain.indexOf(":", ipv6End);
  const host = colon < 0 ? domain : domain.slice(0, colon);
  const port = colon < 0 ? undefined : domain.slice(colon + 1);
  if (port !== undefined && !(PORT.test(port) && Number(port) <= 65535)) return `registry port ${show(port)} is not a port number`;
  const hostOk = IPV6.test(host) || (host !== "" && host.split(".").every((label) => DOMAIN_LABEL.test(label)));
  return hostOk ? undefined : `registry host ${show(host)} is not a host name`;
}

const show = (part: string): string => JSON.stringify(part.length > 40 ? `${part.slice(0, 37)}...` : part);

/** `registry/path:tag@digest` again, from its parts. */
export const formatImageRef = (ref: ImageRef): string =>
  `${ref.domain === undefined ? "" : `${ref.domain}/`}${ref.path}${ref.tag === undefined ? "" : `:${ref.tag}`}${ref.digest === undefined ? "" : `@${ref.digest}`}`;
