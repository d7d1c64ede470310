"""cassetto-load's domain scenario (issue 8 item 6), briefly, against a cassetto-server --dev:
the mix runs with no errors and reports every RPC of the mix with its latency quantiles."""

from __future__ import annotations

import json
import subprocess

MIX = {"SearchPosizioni", "GetPosizione", "GetMenu", "GetDatiSintetici", "ListVersamenti",
       "CheckAccess", "ListDeleghe", "WhoAmI", "SearchPosizioni(operator)",
       "Delega create+activate+revoke"}
# Ticketing operations weigh 1–2% each: a short run may not draw all of them.
TICKETING = {"CreateRichiesta(+100 KB PDF)", "SearchRichieste", "WatchRichiesta(snapshot)"}


def test_domain_mix_runs_clean_with_per_rpc_figures(launch_cassetto, tmp_path, cassetto_bin):
    data = tmp_path / "data"
    data.mkdir()
    with launch_cassetto("--dev", "--log-format", "none", "--data-dir", str(data)) as server:
        result = subprocess.run(
            [str(cassetto_bin / "cassetto-load"), "--scenario", "domain", "--target",
             server.address, "--data-dir", str(data), "-c", "2", "-m", "4", "-D", "1.5",
             "--warmup", "0.3", "--timeout", "10", "--json"],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == {} and report["ok"] > 50
    per_rpc = report["per_rpc"]
    # Every operation weighing ≥ 5% was drawn, each with its own quantiles.
    assert MIX <= set(per_rpc) <= MIX | TICKETING, per_rpc.keys()
    for name, entry in per_rpc.items():
        assert entry["errors"] == {} and entry["ok"] > 0, (name, entry)
        assert 0 < entry["p50_us"] <= entry["p99_us"] <= entry["max_us"]
    assert sum(e["ok"] for e in per_rpc.values()) == report["ok"]


def test_domain_setup_refuses_a_server_without_its_dev_key(launch_cassetto, tmp_path,
                                                           cassetto_bin):
    with launch_cassetto("--dev", "--no-demo") as server:
        result = subprocess.run(
            [str(cassetto_bin / "cassetto-load"), "--scenario", "domain", "--target",
             server.address, "--data-dir", str(tmp_path / "elsewhere"), "-D", "0.5"],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "give --data-dir of a server started with --dev" in \
        result.stderr
