"""invoke tasks used by the SOPs in this folder.

Each task receives a Context (local steps) or a fabric Connection (remote steps) as `c`, so the
same task runs on the responder's machine or on every host of a step.

Conventions:

- Hosts are Debian/Ubuntu; the SSH user (`ops`) has passwordless sudo, so privileged commands
  run as `sudo -n ...` (never prompts: a missing sudo rule fails fast instead of hanging).
- sop renders string arguments that contain `{{ value }}` with shell quoting, so a value may
  arrive as `'a b'`. `_word()` turns such an argument back into one plain word and
  `shlex.quote` puts it into a command again, so either form is safe.
- A task returns a short summary; sop shows it as the step's output.
"""

from __future__ import annotations

import io
import ipaddress
import re
import shlex
import time

from invoke import task

QUARANTINE_TABLE = "sop_quarantine"
EGRESS_TABLE = "sop_egress_block"
REVERT_UNIT = "sop-quarantine-revert"
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")
CASE_RE = re.compile(r"^[A-Za-z0-9._-]+$")
FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


def _word(value: object) -> str:
    """One plain word from a task argument (which may arrive shell-quoted)."""
    text = str(value).strip()
    words = shlex.split(text) if text else []
    if len(words) != 1:
        raise ValueError(f"expected exactly one word, got {text!r}")
    return words[0]


def _words(values: object) -> list[str]:
    if values in (None, ""):
        return []
    if isinstance(values, str):
        return [w for w in re.split(r"[\s,]+", " ".join(shlex.split(values))) if w]
    return [_word(v) for v in values]  # type: ignore[union-attr]


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


def _family(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return "ip" if net.version == 4 else "ip6"


def _sudo(c, command: str, **kwargs):
    return c.run(f"sudo -n {command}", **kwargs)


def _sudo_script(c, script: str, **kwargs):
    """Run a shell script as root, sent on stdin (no quoting of the script itself)."""
    return c.run("sudo -n /bin/sh -s", in_stream=io.StringIO(script), **kwargs)


def _is_connection(c) -> bool:
    """A fabric Connection (a remote step), not an invoke Context (a local step)."""
    try:
        from fabric import Connection
    except ImportError:
        return False
    return isinstance(c, Connection)


def _responder_address(c) -> str:
    """The address this SSH session comes from ($SSH_CLIENT on the host)."""
    result = c.run('printf "%s" "${SSH_CLIENT%% *}"', hide=True, warn=True)
    address = (result.stdout or "").strip()
    if not address:
        raise ValueError(
            "cannot tell the responder's address ($SSH_CLIENT is empty; is this step local?): "
            "pass responder=IP"
        )
    return address


# -- logs ------------------------------------------------------------------------------------


@task
def rotate_logs(c, keep=3):
    """Force a logrotate run and keep only the newest `keep` rotated files per log."""
    c.run("sudo -n logrotate --force /etc/logrotate.conf", warn=True)
    c.run(
        "sudo -n find /var/log -type f -regex '.*\\.[0-9]+\\(\\.gz\\)?$' -printf '%T@ %p\\n' "
        f"| sort -rn | awk 'NR>{int(keep) * 20} {{print $2}}' | xargs -r sudo -n rm -f --"
    )


# -- containment: network isolation ------------------------------------------------------------


@task
def isolate_host(c, responder="", allow="", revert_minutes=15):
    """Cut a host off the network with nftables, keeping the responder's SSH session.

    Saves the current ruleset to /var/tmp/nft-before-isolation.nft, then adds the table
    `inet sop_quarantine` whose input and output chains drop everything except loopback,
    SSH from the responder's address (taken from $SSH_CLIENT unless `responder` is given) and
    the networks in `allow` (e.g. the evidence store). The table sits beside the host's own
    rules: a drop in any base chain is final, so nothing the host allows gets through.

    A dead man's switch (a transient systemd timer) deletes the table after `revert_minutes`
    unless `confirm_isolation` cancels it: a responder who locks themselves out gets the
    host back instead of a trip to the console. `revert_minutes=0` sets no timer.
    """
    who = _network(_word(responder) if str(responder).strip() else _responder_address(c))
    nets = [who] + [_network(a) for a in _words(allow)]
    accept_in = "\n".join(
        f"    {_family(n)} saddr {n} tcp dport 22 accept\n"
        f"    {_family(n)} saddr {n} ct state established,related accept"
        for n in nets
    )
    accept_out = "\n".join(
        f"    {_family(n)} daddr {n} tcp sport 22 accept\n"
        f"    {_family(n)} daddr {n} ct state established,related accept"
        for n in nets
    )
    ruleset = f"""table inet {QUARANTINE_TABLE} {{
  chain input {{
    type filter hook input priority filter - 10; policy drop;
    iif "lo" accept
{accept_in}
    counter
  }}
  chain forward {{
    type filter hook forward priority filter - 10; policy drop;
  }}
  chain output {{
    type filter hook output priority filter - 10; policy drop;
    oif "lo" accept
{accept_out}
    counter
  }}
}}
"""
    minutes = int(revert_minutes)
    script = f"""set -e
nft list ruleset > /var/tmp/nft-before-isolation.nft
nft list table inet {QUARANTINE_TABLE} >/dev/null 2>&1 && nft delete table inet {QUARANTINE_TABLE}
cat > /var/tmp/nft-quarantine.nft <<'EOF'
{ruleset}EOF
nft -c -f /var/tmp/nft-quarantine.nft
"""
    if minutes > 0:
        script += (
            f"systemctl stop {REVERT_UNIT}.timer 2>/dev/null || true\n"
            f"systemd-run --quiet --unit {REVERT_UNIT} --on-active={minutes}m "
            f"/usr/sbin/nft delete table inet {QUARANTINE_TABLE}\n"
        )
    script += "nft -f /var/tmp/nft-quarantine.nft\n"
    _sudo_script(c, script)
    timer = f"; reverts in {minutes} min unless confirmed" if minutes > 0 else ""
    return (
        f"isolated: table inet {QUARANTINE_TABLE} loaded, SSH kept for "
        f"{', '.join(str(n) for n in nets)}{timer}\n"
    )


@task
def confirm_isolation(c):
    """Keep the isolation: check SSH still works (this task runs over it) and cancel the
    dead man's switch set by `isolate_host`."""
    _sudo(c, f"nft list table inet {QUARANTINE_TABLE}", hide=True)
    _sudo(c, f"systemctl stop {REVERT_UNIT}.timer", warn=True, hide=True)
    return f"isolation kept: {REVERT_UNIT}.timer cancelled\n"


@task
def release_host(c):
    """Undo `isolate_host`: delete the quarantine table and cancel its timer. The host's own
    rules were never changed, so nothing else needs restoring."""
    _sudo(c, f"systemctl stop {REVERT_UNIT}.timer", warn=True, hide=True)
    result = _sudo(c, f"nft delete table inet {QUARANTINE_TABLE}", warn=True, hide=True)
    if result.exited != 0 and "No such file" not in result.stderr:
        raise RuntimeError(result.stderr.strip())
    return f"released: table inet {QUARANTINE_TABLE} removed\n"


@task
def block_egress(c, ports="", addresses="", allow=""):
    """Block outbound traffic with nftables (table `inet sop_egress_block`), logging drops.

    `ports`: TCP destination ports to block to everyone (e.g. "22" for an SSH brute-forcer);
    `addresses`: IPs or networks to block entirely (e.g. botnet C2 servers); `allow`: networks
    that stay reachable on those ports (e.g. the company's own SSH bastions). Every drop is
    counted and logged with the prefix `sop-egress-block: ` (see `journalctl -k`).
    """
    port_list = [int(p) for p in _words(ports)]
    nets = [_network(a) for a in _words(addresses)]
    allowed = [_network(a) for a in _words(allow)]
    if not port_list and not nets:
        raise ValueError("nothing to block: give ports and/or addresses")
    rules = [f"    {_family(n)} daddr {n} accept" for n in allowed]
    log = 'limit rate 10/minute log prefix "sop-egress-block: "'
    if port_list:
        match = f"tcp dport {{ {', '.join(map(str, port_list))} }}"
        rules += [f"    {match} {log}", f"    {match} counter drop"]
    for n in nets:
        match = f"{_family(n)} daddr {n}"
        rules += [f"    {match} {log}", f"    {match} counter drop"]
    body = "\n".join(rules)
    script = f"""set -e
nft list table inet {EGRESS_TABLE} >/dev/null 2>&1 && nft delete table inet {EGRESS_TABLE}
cat > /var/tmp/nft-egress-block.nft <<'EOF'
table inet {EGRESS_TABLE} {{
  chain output {{
    type filter hook output priority filter - 5; policy accept;
{body}
  }}
}}
EOF
nft -f /var/tmp/nft-egress-block.nft
nft list table inet {EGRESS_TABLE}
"""
    return _sudo_script(c, script, hide=True).stdout


@task
def unblock_egress(c):
    """Undo `block_egress`: delete the table `inet sop_egress_block`."""
    result = _sudo(c, f"nft delete table inet {EGRESS_TABLE}", warn=True, hide=True)
    if result.exited != 0 and "No such file" not in result.stderr:
        raise RuntimeError(result.stderr.strip())
    return f"table inet {EGRESS_TABLE} removed\n"


# -- evidence ----------------------------------------------------------------------------------

_EVIDENCE = [
    # most volatile first (RFC 3227): network and processes, then logged-in users, then files
    ("date.txt", "date -u +%Y-%m-%dT%H:%M:%SZ; uptime; cat /proc/uptime"),
    ("ss-tanp.txt", "ss -tanp"),
    ("ss-uanp.txt", "ss -uanp"),
    ("ss-xp.txt", "ss -xp"),
    ("ip-addr.txt", "ip -d addr"),
    ("ip-route.txt", "ip route show table all"),
    ("ip-neigh.txt", "ip neigh"),
    ("nft-ruleset.txt", "nft list ruleset"),
    ("iptables-save.txt", "iptables-save"),
    ("ps-auxwwf.txt", "ps auxwwf"),
    ("ps-lstart.txt", "ps -eo pid,ppid,user,lstart,etime,cmd"),
    ("lsof-network.txt", "lsof -nP -i"),
    ("proc-exe.txt", "ls -l /proc/[0-9]*/exe 2>/dev/null"),
    ("proc-deleted-exe.txt", "ls -l /proc/[0-9]*/exe 2>/dev/null | grep '(deleted)'"),
    ("who.txt", "who -a; w"),
    ("last.txt", "last -Faiw -n 200"),
    ("lastb.txt", "lastb -Faiw -n 200"),
    ("lsmod.txt", "lsmod"),
    ("mount.txt", "findmnt -l; df -h"),
    ("systemd-units.txt", "systemctl list-units --all --no-pager; systemctl list-timers --all --no-pager"),
    ("crontabs.txt", "ls -la /etc/cron* /var/spool/cron/crontabs; cat /etc/crontab /var/spool/cron/crontabs/* 2>/dev/null"),
    ("authorized_keys.txt", "for f in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do [ -f \"$f\" ] && { echo \"== $f\"; ls -l \"$f\"; cat \"$f\"; }; done"),
    ("passwd.txt", "cat /etc/passwd /etc/group; ls -l /etc/passwd /etc/shadow /etc/sudoers /etc/sudoers.d"),
    ("new-files.txt", "find /etc /usr /bin /sbin /tmp /var/tmp /dev/shm /root /home -xdev -newermt '3 days ago' -type f -printf '%TY-%Tm-%Td %TH:%TM %u %m %s %p\\n' 2>/dev/null | sort"),
    ("suid.txt", "find / -xdev -perm -4000 -type f -printf '%TY-%Tm-%Td %u %p\\n' 2>/dev/null"),
    ("dpkg-l.txt", "dpkg -l"),
    ("journal-24h.txt", "journalctl --since '-24h' --no-pager -o short-iso"),
    ("auth-log.txt", "cat /var/log/auth.log 2>/dev/null; zcat -f /var/log/auth.log.1 2>/dev/null"),
]


@task
def collect_evidence(c, case, outdir="/var/tmp", fetch_to="evidence"):
    """Collect volatile evidence into a tarball with SHA-256 sums, before anything changes.

    Runs as root: network connections, processes (and binaries deleted from disk), logged-in
    users, login history, firewall rules, persistence (cron, systemd, authorized_keys), files
    changed in the last 3 days, the last 24 hours of the journal and auth.log. Each output goes
    into its own file under `<outdir>/<case>-<host>-<time>/`, `SHA256SUMS` lists them, and the
    folder is packed into a .tar.gz whose own SHA-256 is printed: note it in the incident
    record (chain of custody). Over SSH the tarball is also downloaded to `<fetch_to>/` on the
    responder's machine. Memory is not captured (that needs LiME or AVML, see the SOP).
    """
    case = _word(case)
    if not CASE_RE.fullmatch(case):
        raise ValueError(f"case {case!r}: use letters, digits, '.', '_' and '-'")
    outdir = _word(outdir)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    lines = [
        "set -u",
        "umask 077",
        f"d={shlex.quote(outdir)}/{case}-$(hostname -s)-{stamp}",
        'mkdir -p "$d"',
    ]
    for name, command in _EVIDENCE:
        lines.append(f"( {command} ) > \"$d/{name}\" 2>&1")
    lines += [
        'cd "$d" && sha256sum -- *.txt > SHA256SUMS',
        'cd "$(dirname "$d")" && tar -czf "$d.tar.gz" "$(basename "$d")"',
        'sha256sum "$d.tar.gz" | tee "$d.tar.gz.sha256"',
        'chown "$SUDO_USER" "$d.tar.gz" "$d.tar.gz.sha256" 2>/dev/null || true',
    ]
    result = _sudo_script(c, "\n".join(lines) + "\n", hide=True)
    summary = result.stdout.strip().splitlines()[-1]
    digest, _, path = summary.partition("  ")
    out = f"{summary}\n"
    if _is_connection(c):  # over SSH: bring a copy to the responder's machine
        import os

        local_dir = os.path.join(_word(fetch_to), case)
        os.makedirs(local_dir, exist_ok=True)
        c.get(path, local=os.path.join(local_dir, os.path.basename(path)))
        out += f"copied to {local_dir}/{os.path.basename(path)} (sha256 {digest[:16]}...)\n"
    return out


# -- accounts and keys -------------------------------------------------------------------------


@task
def lock_account(c, user, reason="security incident"):
    """Lock a local account and end its sessions: `usermod -L` (password), `chage -E 0`
    (expires the account, which also stops SSH key logins), `loginctl terminate-user`.
    The previous expiry is saved to /var/tmp/sop-lock-<user>.chage for `unlock_account`."""
    user = _word(user)
    if not USER_RE.fullmatch(user) or user == "root":
        raise ValueError(f"refusing to lock {user!r}")
    q = shlex.quote(user)
    note = " ".join(shlex.split(str(reason)))
    script = f"""set -e
id {q} >/dev/null
LC_ALL=C chage -l {q} > /var/tmp/sop-lock-{user}.chage
usermod -L {q}
chage -E 0 {q}
loginctl terminate-user {q} 2>/dev/null || true
logger -p auth.notice -t sop -- {shlex.quote(f"account {user} locked: {note}")}
passwd -S {q}
"""
    return _sudo_script(c, script, hide=True).stdout


@task
def unlock_account(c, user):
    """Undo `lock_account`: unlock the password and restore the account's expiry date."""
    user = _word(user)
    if not USER_RE.fullmatch(user):
        raise ValueError(f"bad user name {user!r}")
    q = shlex.quote(user)
    script = f"""set -e
usermod -U {q}
expires=$(sed -n 's/^Account expires[[:space:]]*:[[:space:]]*//p' /var/tmp/sop-lock-{user}.chage 2>/dev/null || true)
if [ -z "$expires" ] || [ "$expires" = never ]; then chage -E -1 {q}; else chage -E "$(date -d "$expires" +%F)" {q}; fi
passwd -S {q}
"""
    return _sudo_script(c, script, hide=True).stdout


@task
def revoke_ssh_key(c, fingerprint):
    """Disable an SSH public key everywhere on a host: every authorized_keys line whose
    `ssh-keygen -lf` fingerprint equals `fingerprint` (SHA256:...) is commented out, after a
    backup to authorized_keys.sop-bak. Prints which files changed."""
    fingerprint = _word(fingerprint)
    if not FINGERPRINT_RE.fullmatch(fingerprint):
        raise ValueError(f"not a SHA256 fingerprint: {fingerprint!r}")
    script = f"""set -eu
fp={shlex.quote(fingerprint)}
changed=0
for f in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys /etc/ssh/authorized_keys/*; do
  [ -f "$f" ] || continue
  tmp=$(mktemp)
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) printf '%s\\n' "$line" >> "$tmp"; continue;; esac
    if printf '%s\\n' "$line" | ssh-keygen -lf - 2>/dev/null | grep -qF " $fp "; then
      printf '# revoked by sop %s: %s\\n' "$(date -u +%FT%TZ)" "$line" >> "$tmp"; n=$((n+1))
    else
      printf '%s\\n' "$line" >> "$tmp"
    fi
  done < "$f"
  if [ "$n" -gt 0 ]; then
    cp -p "$f" "$f.sop-bak"
    cat "$tmp" > "$f"
    echo "$f: $n key(s) revoked"; changed=$((changed+n))
  fi
  rm -f "$tmp"
done
echo "total: $changed key(s) revoked"
"""
    return _sudo_script(c, script, hide=True).stdout


@task
def restore_ssh_keys(c):
    """Undo `revoke_ssh_key`: put back every authorized_keys.sop-bak backup."""
    script = """set -eu
for b in /root/.ssh/authorized_keys.sop-bak /home/*/.ssh/authorized_keys.sop-bak /etc/ssh/authorized_keys/*.sop-bak; do
  [ -f "$b" ] || continue
  f=${b%.sop-bak}; cat "$b" > "$f"; rm -f "$b"; echo "restored $f"
done
"""
    return _sudo_script(c, script, hide=True).stdout or "nothing to restore\n"


# -- deployments -------------------------------------------------------------------------------


@task
def switch_upstream(c, color, site="app"):
    """Blue/green switch on an nginx load balancer.

    `/etc/nginx/upstreams/<site>-active.conf` is a symlink to `<site>-blue.conf` or
    `<site>-green.conf` (each defines `upstream <site>`). The task repoints it to `color`,
    checks the configuration with `nginx -t` and reloads nginx; when the check fails it puts
    the old link back and fails. Running it again with the other colour undoes it.
    """
    color = _word(color)
    site = _word(site)
    if color not in ("blue", "green") or not re.fullmatch(r"[a-z0-9-]+", site):
        raise ValueError("color must be blue or green, site lowercase letters, digits and '-'")
    d = "/etc/nginx/upstreams"
    script = f"""set -eu
link={d}/{site}-active.conf
before=$(readlink "$link")
ln -sfn {site}-{color}.conf "$link.new" && mv -T "$link.new" "$link"
if ! nginx -t 2>&1; then
  ln -sfn "$before" "$link.new" && mv -T "$link.new" "$link"
  echo "nginx -t failed: kept $before" >&2; exit 1
fi
systemctl reload nginx
echo "{site}: $before -> $(readlink "$link")"
"""
    return _sudo_script(c, script, hide=True).stdout
