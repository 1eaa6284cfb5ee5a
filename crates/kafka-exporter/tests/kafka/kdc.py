"""A throwaway MIT Kerberos KDC on 127.0.0.1 for the GSSAPI tests (scripts/install-krb5.sh
installs krb5-kdc, krb5-admin-server, krb5-user from Debian).

    with Kdc(workdir, "EXAMPLE.TEST") as kdc:     # realm database, krb5.conf, kdc.conf; KDC running
        kdc.add_principal("kafka/localhost", keytab=path)          # random key, into a keytab
        kdc.add_principal("exporter", password=pw, keytab=path)     # password and keytab both
        kdc.krb5_conf                                               # for clients (KRB5_CONFIG)

Everything lives under `workdir`: the database, the stash, the configuration and the KDC's log
(kdc.log). The KDC runs in the foreground (krb5kdc -n) as our child on a free port, TCP and UDP;
clients are told to use TCP (udp_preference_limit = 1). Nothing reads /etc/krb5.conf.
"""

import os
import shutil
import socket
import subprocess
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tools_missing():
    """The Debian tools this needs that are not installed (empty when all are)."""
    return [t for t in ("krb5kdc", "kdb5_util", "kadmin.local") if not shutil.which(t)
            and not os.path.exists("/usr/sbin/" + t)]


def _tool(name):
    return shutil.which(name) or "/usr/sbin/" + name


class Kdc:
    def __init__(self, workdir, realm):
        self.dir = workdir
        self.realm = realm
        self.port = _free_port()
        self.krb5_conf = os.path.join(workdir, "krb5.conf")
        self.kdc_conf = os.path.join(workdir, "kdc.conf")
        self.log_path = os.path.join(workdir, "kdc.log")
        self.proc = None
        os.makedirs(workdir, exist_ok=True)
        with open(self.krb5_conf, "w") as f:
            # No DNS anywhere: the service principal is made from the host name as given.
            f.write("""[libdefaults]
 default_realm = %(realm)s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 ticket_lifetime = 1h
 kdc_timeout = 3000
 max_retries = 1
[realms]
 %(realm)s = {
  kdc = 127.0.0.1:%(port)d
 }
[domain_realm]
 localhost = %(realm)s
""" % {"realm": realm, "port": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write("""[realms]
 %(realm)s = {
  database_name = %(dir)s/principal
  key_stash_file = %(dir)s/stash
  acl_file = %(dir)s/kadm5.acl
  kdc_listen = 127.0.0.1:%(port)d
  kdc_tcp_listen = 127.0.0.1:%(port)d
  max_life = 1h
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }
[logging]
 kdc = FILE:%(dir)s/kdc.log
""" % {"realm": realm, "dir": workdir, "port": self.port})
        open(os.path.join(workdir, "kadm5.acl"), "w").close()
        self.env = {**os.environ, "KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf,
                    # kinit and friends must not touch the user's own ticket cache.
                    "KRB5CCNAME": "FILE:" + os.path.join(workdir, "ccache")}

    def _run(self, *argv):
        r = subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode,
                                                       (r.stdout + r.stderr).strip()[-1000:]))
        return r.stdout

    def start(self, timeout=30):
        self._run(_tool("kdb5_util"), "create", "-s", "-r", self.realm, "-P", "kdc-master-key-not-secret")
        log = open(self.log_path + ".out", "ab")
        try:
            self.proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", self.realm], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited (%s): %s" % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError("krb5kdc not listening in time: " + self.log_tail())
            time.sleep(0.1)

    def add_principal(self, name, password=None, keytab=None):
        """name@REALM with `password` (else a random key), exported to `keytab` when given
        (-norandkey keeps the password valid)."""
        kadmin = _tool("kadmin.local")
        if password is None:
            self._run(kadmin, "-r", self.realm, "-q", "addprinc -randkey %s" % name)
        else:
            # The password is an argument of a test-only KDC's admin tool, never logged by us.
            # +requires_preauth, as Active Directory and FreeIPA do: a wrong password is then
            # "Preauthentication failed" rather than a failure to decrypt the KDC's answer.
            self._run(kadmin, "-r", self.realm, "-q",
                      "addprinc +requires_preauth -pw %s %s" % (password, name))
        if keytab:
            self._run(kadmin, "-r", self.realm, "-q", "ktadd -k %s -norandkey %s" % (keytab, name))
        return "%s@%s" % (name, self.realm)

    def log_tail(self, lines=20):
        out = []
        for p in (self.log_path, self.log_path + ".out"):
            try:
                with open(p, errors="replace") as f:
                    out.append("".join(f.readlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(out)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
