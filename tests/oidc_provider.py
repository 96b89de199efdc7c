"""A local OpenID Connect provider for the sign-in tests, made here with Authlib's parts
(joserfc signs the ID tokens, authlib's RFC 7636 helper checks PKCE): discovery, JWKS, an
authorize endpoint with a login form, and a token endpoint that insists on the client's
secret, the same redirect URI and a code_verifier matching the S256 code_challenge.

    idp = Provider(client_id="signage", client_secret="s3cret").start()
    idp.people["alice"] = ("alice-pw", {"email": "alice@example.com", "email_verified": True})
    idp.issuer            # what the site is configured with
    idp.refused           # why requests were refused
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fixtures import free_port
from joserfc import jwt
from joserfc.jwk import RSAKey


class Provider:
    def __init__(self, client_id: str = "signage", client_secret: str = "oidc-secret"):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.people: dict[str, tuple[str, dict]] = {}
        self.codes: dict[str, dict] = {}
        self.refused: list[str] = []
        self.tamper = False  # sign ID tokens with another key

    def id_token(self, claims: dict, nonce: str) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce, **claims}
        key = RSAKey.generate_key(2048, parameters={"kid": "test-key"}) if self.tamper else self.key
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, body, key)

    def start(self) -> Provider:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def json(self, data: dict, status: int = 200):
                self.send(status, json.dumps(data).encode())

            def refuse(self, why: str, status: int = 400):
                idp.refused.append(why)
                self.json({"error": "invalid_request", "error_description": why}, status)

            def do_GET(self):
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    return self.json({
                        "issuer": idp.issuer, "authorization_endpoint": f"{idp.issuer}/authorize",
                        "token_endpoint": f"{idp.issuer}/token", "jwks_uri": f"{idp.issuer}/jwks",
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                    })  # fmt: skip
                if url.path == "/jwks":
                    return self.json({"keys": [idp.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    if q.get("client_id") != idp.client_id or q.get("response_type") != "code":
                        return self.refuse("unknown client or response type")
                    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                        return self.refuse("PKCE with S256 is required")
                    if not q.get("state") or not q.get("nonce") or "openid" not in q.get("scope", "").split():
                        return self.refuse("state, nonce and the openid scope are required")
                    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in q.items())
                    page = (f'<!doctype html><title>Company sign-in</title><form method="post" action="/authorize">'
                            f'{hidden}<label>User <input name="username"></label>'
                            f'<label>Password <input type="password" name="password"></label>'
                            f'<button type="submit">Sign in</button></form>')  # fmt: skip
                    return self.send(200, page.encode(), "text/html; charset=utf-8")
                return self.send(404, b"{}")

            def do_POST(self):
                url = urlsplit(self.path)
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()).items()
                }
                if url.path == "/authorize":
                    found = idp.people.get(form.get("username", ""))
                    if found is None or found[0] != form.get("password"):
                        return self.send(401, b"wrong user or password", "text/plain")
                    code = secrets.token_urlsafe(16)
                    idp.codes[code] = {**form, "claims": {"sub": form["username"], **found[1]}}
                    target = f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form['state']})}"
                    return self.send(302, b"", "text/plain", {"Location": target})
                if url.path == "/token":
                    auth = self.headers.get("Authorization", "")
                    given = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
                    if given != f"{idp.client_id}:{idp.client_secret}":
                        return self.refuse("client authentication failed", 401)
                    grant = idp.codes.pop(form.get("code", ""), None)
                    if form.get("grant_type") != "authorization_code" or grant is None:
                        return self.refuse("unknown or used code")
                    if form.get("redirect_uri") != grant["redirect_uri"]:
                        return self.refuse("redirect_uri differs")
                    if create_s256_code_challenge(form.get("code_verifier", "")) != grant["code_challenge"]:
                        return self.refuse("code_verifier does not match the code_challenge")
                    return self.json({
                        "access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                        "id_token": idp.id_token(grant["claims"], grant["nonce"]),
                    })  # fmt: skip
                return self.send(404, b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
