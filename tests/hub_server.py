"""A Hugging Face Hub-compatible test server on loopback, for the real ``huggingface_hub`` client.

It implements only what the client (and transformers' ``from_pretrained`` on top of it) calls: whoami,
create repo / branch, repo info by revision, YAML validation, preupload (every file "regular": no LFS,
no xet), ndjson commits, tree / paths-info / commit listings and ``resolve/<revision>/<file>`` downloads
(HEAD + GET with ``ETag``, ``X-Repo-Commit`` and ``Content-Length``). Repos live in memory with their blobs
in a folder; commit ids are git-like (SHA-1 of the tree, parent, message and time) and blob ids are git's
blob SHA-1, which is what the client compares to skip unchanged files.

    server = HubServer(tmp_path).start()     # port 0: a free port
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": server.token}
    ...                                      # run the client in a subprocess with env
    server.files("tester/model")             # {path: bytes} at main
    server.stop()

``HF_ENDPOINT`` must be set before ``huggingface_hub`` is imported, hence a subprocess for the client.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
REPO_API = re.compile(
    r"^/api/models/([^/]+/[^/]+)(?:/(revision|preupload|commit|tree|paths-info|commits|branch)(?:/([^/]+)(?:/(.*))?)?)?$"
)
RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
SHA = re.compile(r"^[0-9a-f]{40}$")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    id: str
    parent: str | None
    title: str
    message: str
    files: dict[str, str]  # path -> blob id
    date: str


@dataclass
class Repo:
    id: str
    private: bool
    created: str
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit id
    commits: dict[str, Commit] = field(default_factory=dict)


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


class HubServer:
    """The server; ``tokens`` maps accepted bearer tokens to user names."""

    def __init__(self, root: str | Path, tokens: dict[str, str] | None = None):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tokens = tokens or {"hf_test_write_token": "tester"}
        self.repos: dict[str, Repo] = {}
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, user)
        self.unhandled: list[str] = []  # requests no route answered (the client called something new)
        self.lock = threading.RLock()
        self._httpd = None

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- state, for the handler and for tests --------------------------------------------------------------

    def repo(self, repo_id: str, user: str | None = None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user != repo_id.split("/")[0]):
            raise HubError(404, f"Repository Not Found for url: {repo_id}", "RepoNotFound")
        return repo

    def resolve(self, repo: Repo, revision: str) -> Commit:
        revision = unquote(revision)
        commit_id = repo.branches.get(revision) or (revision if revision in repo.commits else None)
        if commit_id is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo.commits[commit_id]

    def read_blob(self, blob_id: str) -> bytes:
        return (self.blobs / blob_id).read_bytes()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self.lock:
            commit = self.resolve(self.repos[repo_id], revision)
            return {path: self.read_blob(blob) for path, blob in commit.files.items()}

    def commits(self, repo_id: str, revision: str = "main") -> list[Commit]:
        """Newest first, following parents from ``revision``."""
        with self.lock:
            repo = self.repos[repo_id]
            commit, history = self.resolve(repo, revision), []
            while commit is not None:
                history.append(commit)
                commit = repo.commits.get(commit.parent) if commit.parent else None
            return history

    def _now(self) -> str:
        return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _commit(self, repo: Repo, branch: str, parent: Commit | None, files: dict[str, str], title: str,
                message: str = "") -> Commit:
        payload = json.dumps({"tree": sorted(files.items()), "parent": parent.id if parent else None,
                              "title": title, "message": message, "time": time.time_ns()})
        commit = Commit(hashlib.sha1(payload.encode()).hexdigest(), parent.id if parent else None, title, message,
                        dict(files), self._now())
        repo.commits[commit.id] = commit
        repo.branches[branch] = commit.id
        return commit

    def store(self, data: bytes) -> str:
        blob_id = git_blob_id(data)
        path = self.blobs / blob_id
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return blob_id

    def create_repo(self, repo_id: str, private: bool = False) -> Repo:
        with self.lock:
            repo = Repo(repo_id, private, self._now())
            self.repos[repo_id] = repo
            self._commit(repo, "main", None, {".gitattributes": self.store(GITATTRIBUTES)}, "initial commit")
            return repo

    def apply_commit(self, repo: Repo, branch: str, lines: list[dict]) -> Commit:
        with self.lock:
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
            head = repo.commits[repo.branches[branch]]
            header = next((line["value"] for line in lines if line.get("key") == "header"), None)
            if header is None or not header.get("summary"):
                raise HubError(400, "the commit needs a header line with a summary")
            if header.get("parentCommit") and header["parentCommit"] != head.id:
                raise HubError(412, f"A commit has happened since {header['parentCommit']}; pull and retry")
            files = dict(head.files)
            for line in lines:
                key, value = line.get("key"), line.get("value", {})
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, f"unsupported encoding {value.get('encoding')!r}")
                    files[value["path"]] = self.store(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {path: blob for path, blob in files.items() if not path.startswith(prefix)}
                elif key == "lfsFile":
                    raise HubError(400, "this test server stores every file as a regular git blob (no LFS)")
                elif key != "header":
                    raise HubError(400, f"unknown commit operation {key!r}")
            return self._commit(repo, branch, head, files, header["summary"], header.get("description", ""))


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: the tests read hub.log instead
        pass

    # -- plumbing ----------------------------------------------------------------------------------------

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return self.hub.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def _body(self) -> bytes:
        return self.body

    def _read_body(self) -> bytes:
        # Read every request's body first: on a keep-alive connection an unread body would become the next request.
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return data

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value, status: int = 200, headers: dict | None = None):
        self._send(status, json.dumps(value).encode(), headers)

    def _error(self, error: HubError):
        headers = {"X-Error-Message": error.message}
        if error.code:
            headers["X-Error-Code"] = error.code
        if error.commit:
            headers["X-Repo-Commit"] = error.commit
        self._json({"error": error.message}, error.status, headers)

    def _write_user(self, repo_id: str | None = None) -> str:
        user = self._user()
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        if repo_id is not None and repo_id.split("/")[0] != user:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return user

    def _dispatch(self):
        self.body = self._read_body()
        parts = urlsplit(self.path)
        path, query = unquote(parts.path) if "/resolve/" not in parts.path else parts.path, parse_qs(parts.query)
        with self.hub.lock:
            self.hub.log.append((self.command, self.path, self._user()))
        try:
            if path == "/api/whoami-v2" and self.command == "GET":
                user = self._user()
                if user is None:
                    raise HubError(401, "Invalid credentials in Authorization header")
                return self._json({"type": "user", "name": user, "fullname": user, "orgs": [],
                                   "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})
            if path == "/api/repos/create" and self.command == "POST":
                return self._create_repo()
            if path == "/api/validate-yaml" and self.command == "POST":
                return self._validate_yaml()
            match = RESOLVE.match(path)
            if match and self.command in ("GET", "HEAD"):
                return self._resolve(match.group(1), unquote(match.group(2)), unquote(match.group(3)))
            match = REPO_API.match(path)
            if match:
                return self._repo_api(match.group(1), match.group(2), match.group(3), match.group(4) or "", query)
            with self.hub.lock:
                self.hub.unhandled.append(f"{self.command} {self.path}")
            raise HubError(404, f"no route for {self.command} {path}")
        except HubError as error:
            self._error(error)

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _dispatch

    # -- routes ------------------------------------------------------------------------------------------

    def _create_repo(self):
        payload = json.loads(self._body())
        user = self._write_user()
        repo_id = f"{payload.get('organization') or user}/{payload['name']}"
        self._write_user(repo_id)
        url = f"{self.hub.url}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repos:
                return self._json({"error": "You already created this model repo", "url": url}, 409)
            self.hub.create_repo(repo_id, private=payload.get("visibility") == "private" or bool(payload.get("private")))
        return self._json({"url": url, "name": repo_id, "id": repo_id})

    def _validate_yaml(self):
        payload = json.loads(self._body())
        match = re.match(r"^---\n(.*?)\n---\n", payload.get("content", ""), flags=re.DOTALL)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as error:
            return self._json({"errors": [{"message": f"invalid YAML: {error}"}]}, 400)
        if metadata is not None and not isinstance(metadata, dict):
            return self._json({"errors": [{"message": "the metadata must be a mapping"}]}, 400)
        return self._json({"errors": [], "warnings": []})

    def _entry(self, commit: Commit, path: str) -> dict:
        blob = commit.files[path]
        return {"type": "file", "oid": blob, "size": (self.hub.blobs / blob).stat().st_size, "path": path}

    def _folders(self, commit: Commit) -> set[str]:
        return {"/".join(path.split("/")[:i]) for path in commit.files for i in range(1, path.count("/") + 1)}

    def _repo_api(self, repo_id: str, action: str | None, revision: str | None, rest: str, query: dict):
        with self.hub.lock:
            repo = self.hub.repo(repo_id, self._user())
            if action in (None, "revision") and self.command == "GET":
                commit = self.hub.resolve(repo, revision or "main")
                return self._json({
                    "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": commit.id,
                    "private": repo.private, "disabled": False, "gated": False, "lastModified": commit.date,
                    "createdAt": repo.created, "tags": [], "siblings": [{"rfilename": p} for p in sorted(commit.files)],
                })
            if action == "preupload" and self.command == "POST":
                self._write_user(repo_id)
                files = self.hub.resolve(repo, revision).files
                payload = json.loads(self._body())
                return self._json({"files": [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": files.get(f["path"])}
                    for f in payload["files"]
                ], "commitOid": repo.branches.get(unquote(revision))})
            if action == "commit" and self.command == "POST":
                self._write_user(repo_id)
                lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
                commit = self.hub.apply_commit(repo, unquote(revision), lines)
                return self._json({"success": True, "commitOid": commit.id, "pullRequestUrl": None,
                                   "commitUrl": f"{self.hub.url}/{repo_id}/commit/{commit.id}"})
            if action == "branch" and self.command == "POST":
                self._write_user(repo_id)
                body = self._body()
                start = (json.loads(body) if body else {}).get("startingPoint") or "main"
                if revision in repo.branches:
                    raise HubError(409, f"Branch {revision} already exists")
                repo.branches[revision] = self.hub.resolve(repo, start).id
                return self._json({})
            if action == "tree" and self.command == "GET":
                commit = self.hub.resolve(repo, revision)
                prefix = rest.strip("/")
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                entries = []
                for folder in sorted(self._folders(commit)):
                    if self._listed(folder, prefix, recursive):
                        entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "path": folder})
                for path in sorted(commit.files):
                    if self._listed(path, prefix, recursive):
                        entries.append(self._entry(commit, path))
                if prefix and prefix not in self._folders(commit):
                    raise HubError(404, f"{prefix} does not exist", "EntryNotFound", commit.id)
                return self._json(entries)
            if action == "paths-info" and self.command == "POST":
                commit = self.hub.resolve(repo, revision)
                paths = parse_qs(self._body().decode()).get("paths", [])
                folders = self._folders(commit)
                entries = [self._entry(commit, p) for p in paths if p in commit.files]
                entries += [{"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "path": p}
                            for p in paths if p in folders]
                return self._json(entries)
            if action == "commits" and self.command == "GET":
                history = self.hub.commits(repo_id, revision)
                return self._json([
                    {"id": c.id, "title": c.title, "message": c.message, "authors": [{"user": repo_id.split("/")[0]}],
                     "date": c.date} for c in history
                ])
        with self.hub.lock:
            self.hub.unhandled.append(f"{self.command} {self.path}")
        raise HubError(404, f"no route for {self.command} {self.path}")

    @staticmethod
    def _listed(path: str, prefix: str, recursive: bool) -> bool:
        if prefix and not path.startswith(prefix + "/"):
            return False
        rest = path[len(prefix) + 1:] if prefix else path
        return recursive or "/" not in rest

    def _resolve(self, repo_id: str, revision: str, path: str):
        with self.hub.lock:
            repo = self.hub.repo(repo_id, self._user())
            commit = self.hub.resolve(repo, revision)
            blob = commit.files.get(path)
            if blob is None:
                raise HubError(404, "Entry not found", "EntryNotFound", commit.id)
            data = self.hub.read_blob(blob)
        self._send(200, data, {"ETag": f'"{blob}"', "X-Repo-Commit": commit.id, "Accept-Ranges": "bytes"},
                   content_type="application/octet-stream")
