"""A stand-in for the Hugging Face Hub's HTTP API on loopback, so hub tests run offline
through the real `huggingface_hub` client (written against 2.4.0). Standard library only.

Endpoints, with `{type}` one of models/datasets/spaces and `{repo}` an `owner/name` id;
`{rev}` is a branch or a full or abbreviated (7+ hex) commit sha, URL-quoted as the
client sends it:

    POST     /api/repos/create                  {"name", "organization", "type", "visibility"}
                                                -> {"url"}; 409 if it exists. Like the Hub, a new
                                                repo gets an initial commit with `.gitattributes`.
    POST     /api/validate-yaml                 README.md front matter must parse to a mapping
    POST     /api/{type}/{repo}/preupload/{rev} every file "regular", with the current blob oid so
                                                the client skips unchanged files. Never "lfs": in
                                                2.4.0 "lfs" means a Xet upload when hf_xet is
                                                installed (the default) and the LFS batch API
                                                otherwise; this stand-in implements neither.
    POST     /api/{type}/{repo}/commit/{rev}    NDJSON: header, file (base64), deletedFile,
                                                deletedFolder -> {"commitOid", "commitUrl"}; every
                                                commit gets a new 40-hex sha and old ones stay
                                                readable; parentCommit is checked (412)
    POST     /api/{type}/{repo}/branch/{branch} {"startingPoint"}; 409 if it exists
    GET      /api/{type}/{repo}[/revision/{rev}] id, sha, private, siblings, lastModified
    GET      /api/{type}/{repo}/tree/{rev}[/{path}]   ?recursive=; one page (no Link header);
                                                files: type, oid (git blob sha1), size, path
    HEAD|GET /[{type}/]{repo}/resolve/{rev}/{path}     ETag (the git blob sha1), X-Repo-Commit,
                                                Content-Length; GET honours `Range: bytes=N-`.
                                                No X-Xet-Hash header, so downloads are plain HTTP.
    GET      /api/agent-harnesses               empty registry (the client fetches it once per
                                                process to build its User-Agent)

Errors are JSON `{"error": ...}` with the `X-Error-Code` header the client maps to its
exceptions: 404 RepoNotFound -> RepositoryNotFoundError, 404 RevisionNotFound ->
RevisionNotFoundError, 404 EntryNotFound -> RemoteEntryNotFoundError. Writes need
`Authorization: Bearer <token>` (401 otherwise); private repos read as missing without it.
Anything the stand-in does not implement (lfsFile operations, create_pr) is a 400.

For tests, `LocalHub` also has `stop()`/`start()` (connections refused in between, same port
after), `tamper(repo_id, path, data, revision=...)` (storage corruption: new bytes, same
ETag), `read(repo_id, path, revision=...)` (the stored bytes) and `requests` (a log of "METHOD /path"). The function-scoped `local_hub` fixture starts
one, points huggingface_hub at it with a fresh cache under tmp_path, and restores everything
afterwards; see `point_client_at` for the constants it patches and why.
"""

import base64
import datetime
import hashlib
import http.server
import json
import secrets
import threading
import urllib.parse

import pytest


def git_blob_sha1(data):
    """The oid git (and the Hub, for non-LFS files) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    def __init__(self, status, message, code=None, headers=None, **fields):
        super().__init__(message)
        self.status, self.code, self.headers, self.fields = status, code, headers or {}, fields


class LocalHub:
    """Repos in memory (commits map paths to blob oids), blobs on disk under `root`.

    Args:
        root: pathlib.Path. Where blobs are stored.
        token: str. The one token accepted for writes and private reads.
    """

    def __init__(self, root, token="hf_local_test_token"):
        self.root = root
        self.token = token
        self.repos = {}  # "models/owner/name" -> {"private", "branches", "commits"}
        self.requests = []  # "METHOD /path" for every request served, for tests to inspect
        self.lock = threading.Lock()
        self.port = 0
        self._server = None
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        """Listen (again, on the same port after a `stop`)."""
        handler = type("BoundHandler", (_Handler,), {"hub": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        """Stop listening: connections are refused, as when the Hub is unreachable."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def tamper(self, repo_id, path, data, *, revision="main"):
        """Overwrite the stored bytes of `path` at `revision` without a commit, the way
        corrupted or substituted storage would: the oid/ETag the Hub reports is unchanged,
        the Content-Length follows the new bytes. Blobs are content-addressed, so every
        revision holding the same content is affected."""
        with self.lock:
            repo = self._repo(f"models/{repo_id}", authorized=True)
            oid, _ = repo["commits"][self._resolve(repo, revision)]["files"][path]
            (self.root / "blobs" / oid).write_bytes(data)

    def read(self, repo_id, path, *, revision="main"):
        """The stored bytes of `path` at `revision` (to restore after `tamper`)."""
        with self.lock:
            repo = self._repo(f"models/{repo_id}", authorized=True)
            oid, _ = repo["commits"][self._resolve(repo, revision)]["files"][path]
            return (self.root / "blobs" / oid).read_bytes()

    # Internals (called from handler threads, under self.lock).

    def _repo(self, key, authorized):
        repo = self.repos.get(key)
        if repo is None or (repo["private"] and not authorized):
            raise HubError(404, f"Repository not found: {key}", "RepoNotFound")
        return repo

    def _resolve(self, repo, revision):
        if revision in repo["branches"]:
            return repo["branches"][revision]
        if len(revision) >= 7 and all(c in "0123456789abcdef" for c in revision):
            matches = [sha for sha in repo["commits"] if sha.startswith(revision)]
            if len(matches) == 1:
                return matches[0]
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _commit(self, repo, branch, files, summary):
        sha = secrets.token_hex(20)
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        date = now.replace("+00:00", "Z")
        repo["commits"][sha] = {"files": files, "summary": summary, "date": date}
        repo["branches"][branch] = sha
        return sha

    def _store(self, data):
        oid = git_blob_sha1(data)
        (self.root / "blobs" / oid).write_bytes(data)
        return oid, len(data)


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so `stop()` leaves no keep-alive handler answering.
    protocol_version = "HTTP/1.0"
    hub: LocalHub

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        raw_path, _, query = self.path.partition("?")
        self.query = urllib.parse.parse_qs(query)
        self.hub.requests.append(f"{method} {raw_path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        # Split before unquoting: the client quotes revisions and tree paths with safe="".
        parts = [urllib.parse.unquote(p) for p in raw_path.strip("/").split("/")]
        try:
            with self.hub.lock:
                if parts[:1] == ["api"]:
                    self._api(method, parts[1:])
                elif "resolve" in parts and method in ("GET", "HEAD"):
                    self._resolve_file(method, parts)
                else:
                    raise HubError(404, f"No route for {method} {raw_path}")
        except HubError as err:
            self._send(err.status, {"error": str(err), **err.fields}, err.code, err.headers)

    def _authorized(self):
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _require_token(self):
        if not self._authorized():
            raise HubError(401, "Invalid credentials in Authorization header", headers={
                "X-Error-Message": "Invalid credentials in Authorization header"})

    def _send(self, status, payload, code=None, headers=None, body=None, head=False):
        body = json.dumps(payload).encode() if body is None else body
        self.send_response(status)
        kind = "application/json" if payload is not None else "application/octet-stream"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if code:
            self.send_header("X-Error-Code", code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self):
        return json.loads(self.body or b"{}")

    def _api(self, method, parts):
        hub = self.hub
        if method == "POST" and parts == ["repos", "create"]:
            return self._create_repo(self._json())
        if method == "POST" and parts == ["validate-yaml"]:
            return self._validate_yaml(self._json().get("content", ""))
        if method == "GET" and parts == ["agent-harnesses"]:
            return self._send(200, {"standardEnvVars": [], "harnesses": {}})
        if len(parts) < 3 or parts[0] not in ("models", "datasets", "spaces"):
            raise HubError(404, f"No API route /api/{'/'.join(parts)}")
        key = "/".join(parts[:3])
        repo = hub._repo(key, self._authorized())
        action, rest = (parts[3], parts[4:]) if len(parts) > 3 else ("revision", ["main"])
        if method == "GET" and action == "revision" and len(rest) == 1:
            return self._repo_info(key, repo, hub._resolve(repo, rest[0]))
        if method == "GET" and action == "tree" and rest:
            return self._tree(repo, hub._resolve(repo, rest[0]), "/".join(rest[1:]))
        if method == "POST" and action in ("preupload", "commit", "branch") and len(rest) == 1:
            self._require_token()
            if "create_pr" in self.query:
                raise HubError(400, "create_pr is not implemented by the stand-in Hub")
            return getattr(self, f"_{action}")(key, repo, rest[0])
        raise HubError(404, f"No API route {method} /api/{'/'.join(parts)}")

    def _create_repo(self, payload):
        self._require_token()
        repo_type = payload.get("type") or "model"
        name = "/".join(filter(None, (payload.get("organization"), payload["name"])))
        key = f"{repo_type}s/{name}"
        url = f"{self.hub.endpoint}/{'' if repo_type == 'model' else repo_type + 's/'}{name}"
        if key in self.hub.repos:
            # exist_ok=True reads the url from this 409 answer, as it does on the Hub
            raise HubError(409, "You already created this model repo", url=url)
        repo = {"private": payload.get("visibility") == "private", "branches": {}, "commits": {}}
        attributes = self.hub._store(b"*.h5 filter=lfs diff=lfs merge=lfs -text\n")
        self.hub._commit(repo, "main", {".gitattributes": attributes}, "initial commit")
        self.hub.repos[key] = repo
        self._send(200, {"url": url, "name": name, "id": secrets.token_hex(12)})

    def _validate_yaml(self, content):
        errors = []
        if content.startswith("---"):
            front, sep, _ = content[3:].partition("\n---")
            try:
                import yaml  # a huggingface_hub dependency; skip the check where it is absent

                if not sep or not isinstance(yaml.safe_load(front), dict):
                    errors.append({"message": "front matter is not a YAML mapping closed by ---"})
            except ImportError:
                pass
            except Exception as err:  # yaml.YAMLError
                errors.append({"message": f"invalid YAML: {err}"})
        self._send(400 if errors else 200, {"errors": errors, "warnings": []})

    def _repo_info(self, key, repo, sha):
        commit = repo["commits"][sha]
        siblings = [{"rfilename": p, "size": s, "blobId": o}
                    for p, (o, s) in sorted(commit["files"].items())]
        self._send(200, {
            "id": key.split("/", 1)[1], "sha": sha, "private": repo["private"], "disabled": False,
            "gated": False, "lastModified": commit["date"], "tags": [], "siblings": siblings})

    def _tree(self, repo, sha, prefix):
        files = repo["commits"][sha]["files"]
        base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        recursive = self.query.get("recursive", ["false"])[0].lower() == "true"
        entries, folders = [], set()
        for path, (oid, size) in sorted(files.items()):
            if not path.startswith(base):
                continue
            dirs = path[len(base):].split("/")[:-1]
            if recursive:
                folders.update(base + "/".join(dirs[:depth]) for depth in range(1, len(dirs) + 1))
            elif dirs:
                folders.add(base + dirs[0])
                continue
            entries.append({"type": "file", "oid": oid, "size": size, "path": path})
        if not entries and not folders:
            raise HubError(404, f"{prefix} does not exist on {sha}", "EntryNotFound")
        folder_entries = [
            {"type": "directory", "oid": git_blob_sha1(f.encode()), "size": 0, "path": f}
            for f in sorted(folders)]
        self._send(200, folder_entries + entries)

    def _branch_head(self, repo, branch):
        if branch not in repo["branches"]:
            raise HubError(404, f"Invalid rev id: {branch} (commits go to a branch)",
                           "RevisionNotFound")
        return repo["branches"][branch]

    def _preupload(self, key, repo, branch):
        head_files = repo["commits"][self._branch_head(repo, branch)]["files"]
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": head_files.get(f["path"], (None,))[0]} for f in self._json()["files"]]
        self._send(200, {"files": files, "commitOid": repo["branches"][branch]})

    def _commit(self, key, repo, branch):
        head = self._branch_head(repo, branch)
        files = dict(repo["commits"][head]["files"])
        lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "commit payload must start with a header line")
        header = lines[0]["value"]
        if header.get("parentCommit") and not head.startswith(header["parentCommit"]):
            raise HubError(412, f"A commit happened since {header['parentCommit']}: head is {head}")
        for line in lines[1:]:
            kind, value = line.get("key"), line.get("value", {})
            if kind == "file" and value.get("encoding") == "base64":
                files[value["path"]] = self.hub._store(base64.b64decode(value["content"]))
            elif kind == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"{value['path']} does not exist", "EntryNotFound")
            elif kind == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: f for p, f in files.items() if not p.startswith(folder)}
            else:
                raise HubError(400, f"The stand-in only takes regular base64 files, got {kind!r}")
        sha = self.hub._commit(repo, branch, files, header.get("summary", ""))
        repo_type, repo_id = key.split("/", 1)
        url_prefix = self.hub.endpoint + ("" if repo_type == "models" else f"/{repo_type}")
        self._send(200, {"success": True, "commitOid": sha, "pullRequestUrl": None,
                         "commitUrl": f"{url_prefix}/{repo_id}/commit/{sha}"})

    def _branch(self, key, repo, branch):
        if branch in repo["branches"]:
            raise HubError(409, f"Reference already exists: {branch}")
        start = self._json().get("startingPoint") or "main"
        repo["branches"][branch] = self.hub._resolve(repo, start)
        self._send(200, {})

    def _resolve_file(self, method, parts):
        at = parts.index("resolve")
        repo_parts = parts[:at] if parts[0] in ("datasets", "spaces") else ["models", *parts[:at]]
        if len(repo_parts) != 3 or len(parts) < at + 3:
            raise HubError(404, f"No route for /{'/'.join(parts)}")
        repo = self.hub._repo("/".join(repo_parts), self._authorized())
        sha = self.hub._resolve(repo, parts[at + 1])
        path = "/".join(parts[at + 2:])
        if path not in repo["commits"][sha]["files"]:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": sha})
        oid, _ = repo["commits"][sha]["files"][path]
        data = (self.hub.root / "blobs" / oid).read_bytes()
        headers = {"ETag": f'"{oid}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        status, start = 200, 0
        byte_range = self.headers.get("Range", "")
        if method == "GET" and byte_range.startswith("bytes=") and byte_range.endswith("-"):
            status, start = 206, int(byte_range[len("bytes="):-1])
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self._send(status, None, headers=headers, body=data[start:], head=method == "HEAD")


def point_client_at(hub, monkeypatch, home):
    """Send huggingface_hub's traffic to `hub`, with its own cache and token under `home`.

    The client reads its settings from the environment once, at import, into module
    constants, so setting env vars is not enough: the constants are patched too (and the
    env vars set for any subprocess a test starts).
    """
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _http

    cache = str(home / "hub")
    for name, value in {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(home), "HF_HUB_CACHE": cache,
                        "HF_TOKEN": hub.token, "HF_HUB_DISABLE_TELEMETRY": "1",
                        "NO_PROXY": "127.0.0.1,localhost"}.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_OIDC_RESOURCE",
                 "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    patches = {
        # where requests go: API calls use ENDPOINT, downloads the resolve-URL template
        "ENDPOINT": hub.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": constants.HF_URL_HOSTS | {"127.0.0.1"},
        # where files go: never the developer's own cache or token
        "HF_HOME": str(home), "HF_HUB_CACHE": cache, "HUGGINGFACE_HUB_CACHE": cache,
        "HF_ASSETS_CACHE": str(home / "assets"), "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"), "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        # skips the once-per-process agent-registry fetch that builds the User-Agent
        "HF_HUB_DISABLE_TELEMETRY": True,
    }
    for name, value in patches.items():
        monkeypatch.setattr(constants, name, value)
    # `huggingface_hub.create_repo` & co. are bound to an HfApi built at import time.
    monkeypatch.setattr(hf_api.api, "endpoint", hub.endpoint)
    origins = _http._HUB_ORIGINS | {_http._url_origin(hub.endpoint)}
    monkeypatch.setattr(_http, "_HUB_ORIGINS", origins)  # redirects it may follow
    # The shared HTTP client is built once (proxy settings included): start from a fresh one.
    _http.close_session()


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    """A running `LocalHub` with huggingface_hub pointed at it and a fresh cache in tmp_path."""
    pytest.importorskip("huggingface_hub")
    hub = LocalHub(tmp_path / "hub-storage")
    hub.start()
    point_client_at(hub, monkeypatch, tmp_path / "hf-home")
    yield hub
    hub.stop()
    from huggingface_hub.utils import _http

    _http.close_session()
