"""hush's dbutils shim: dbutils.secrets for Jupyter kernels and scripts.

Standard library only. It speaks the Databricks Secrets API 2.0 to the
host in DATABRICKS_HOST with the bearer token in DATABRICKS_TOKEN -- in a
hush kernel or under `hush run` that is a loopback bridge which registers
every value with the output redactor before returning it, in each form this
module hands it out in (the bytes of getBytes, the str of get, the repr of
those bytes), so anything printed shows [REDACTED].

When HUSH_BRIDGE_FILE names a JSON file {"host": ..., "token": ...} (written
by `hush proxy`), the host and token are read from it on every call and
exported to the environment, so a proxy restart is picked up and any
Databricks SDK in the kernel uses the bridge too.
"""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["dbutils", "SecretsError", "SecretMetadata", "SecretScope"]

_HELP_DBUTILS = """\
This module provides various utilities for users to interact with the rest of Databricks.

secrets: SecretUtils -> Provides utilities for leveraging secrets within notebooks
"""

_HELP_SECRETS = """\
The secrets utility allows you to leverage and access sensitive credential information without making them visible in notebooks. See https://docs.databricks.com/security/secrets/index.html#secret-management-with-notebooks

get(scope: String, key: String): String -> Gets the string representation of a secret value with scope and key
getBytes(scope: String, key: String): byte[] -> Gets the bytes representation of a secret value with scope and key
list(scope: String): Seq -> Lists secret metadata for secrets within a scope
listScopes: Seq -> Lists secret scopes
"""

_OVERRIDES = (
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_CONFIG_FILE",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
)


class SecretsError(Exception):
    """An error answered by the secrets server; str() is the server's message."""

    def __init__(self, message, error_code="", status=0):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class SecretMetadata(object):
    """One entry of dbutils.secrets.list(scope)."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return "SecretMetadata(key=%r)" % (self.key,)

    def __eq__(self, other):
        return isinstance(other, SecretMetadata) and other.key == self.key

    def __hash__(self):
        return hash(("SecretMetadata", self.key))


class SecretScope(object):
    """One entry of dbutils.secrets.listScopes()."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def getName(self):
        return self.name

    def __repr__(self):
        return "SecretScope(name=%r)" % (self.name,)

    def __eq__(self, other):
        return isinstance(other, SecretScope) and other.name == self.name

    def __hash__(self):
        return hash(("SecretScope", self.name))


def _endpoint():
    bridge_file = os.environ.get("HUSH_BRIDGE_FILE", "")
    if bridge_file:
        try:
            with open(bridge_file, "r") as f:
                conf = json.load(f)
        except (OSError, ValueError) as e:
            raise SecretsError(
                "hush: cannot read the bridge file %s (is `hush proxy` running?): %s"
                % (bridge_file, e.__class__.__name__)
            )
        host, token = conf.get("host", ""), conf.get("token", "")
        os.environ["DATABRICKS_HOST"] = host
        os.environ["DATABRICKS_TOKEN"] = token
        os.environ["DATABRICKS_AUTH_TYPE"] = "pat"
        for name in _OVERRIDES:
            os.environ.pop(name, None)
    host = os.environ.get("DATABRICKS_HOST", "")
    token = os.environ.get("DATABRICKS_TOKEN", "")
    if not host:
        raise SecretsError("hush: DATABRICKS_HOST is not set; run under `hush run` or a hush kernel")
    if "://" not in host:
        host = "https://" + host
    return host.rstrip("/"), token


def _call(path, params):
    host, token = _endpoint()
    url = host + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url, method="GET")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        code, message = "", ""
        try:
            doc = json.loads(raw.decode("utf-8"))
            code, message = doc.get("error_code", ""), doc.get("message", "")
        except (ValueError, AttributeError):
            pass
        if not message:
            message = "HTTP %d from %s" % (e.code, host)
        raise SecretsError(message, code, e.code) from None
    except urllib.error.URLError as e:
        raise SecretsError("hush: cannot reach %s: %s" % (host, e.reason)) from None
    try:
        return json.loads(body.decode("utf-8")) if body else {}
    except ValueError:
        raise SecretsError("hush: %s answered with invalid JSON" % host) from None


def _need(name, value):
    if not isinstance(value, str) or value == "":
        raise SecretsError("%s must be a non-empty string" % name, "INVALID_PARAMETER_VALUE", 400)


class SecretsUtil(object):
    """dbutils.secrets: get, getBytes, list, listScopes, help."""

    def getBytes(self, scope, key):
        """Gets the bytes representation of a secret value with scope and key."""
        _need("scope", scope)
        _need("key", key)
        doc = _call("/api/2.0/secrets/get", {"scope": scope, "key": key})
        return base64.b64decode(doc.get("value", ""))

    def get(self, scope, key):
        """Gets the string representation of a secret value with scope and key."""
        # Bytes that are not valid UTF-8 become U+FFFD. The bridge registers
        # the UTF-8 of exactly this decoding with the redactor (Go:
        # internal/handout.PythonStr), so printing the str shows [REDACTED];
        # change the two together.
        return self.getBytes(scope, key).decode("utf-8", errors="replace")

    def list(self, scope):
        """Lists secret metadata for secrets within a scope."""
        _need("scope", scope)
        doc = _call("/api/2.0/secrets/list", {"scope": scope})
        return [SecretMetadata(s.get("key", "")) for s in doc.get("secrets", [])]

    def listScopes(self):
        """Lists secret scopes."""
        doc = _call("/api/2.0/secrets/scopes/list", None)
        return [SecretScope(s.get("name", "")) for s in doc.get("scopes", [])]

    def help(self, method=None):
        """Prints the help of the secrets utility."""
        print(_HELP_SECRETS, end="")

    def __repr__(self):
        return "<hush dbutils.secrets>"


class DBUtils(object):
    """The dbutils object: only .secrets is provided by hush."""

    def __init__(self):
        self.secrets = SecretsUtil()

    def help(self):
        """Prints the help of dbutils."""
        print(_HELP_DBUTILS, end="")

    def __repr__(self):
        return "<hush dbutils>"


dbutils = DBUtils()

if os.environ.get("HUSH_BRIDGE_FILE"):
    try:
        _endpoint()
    except SecretsError:
        pass
