"""Posizioni.ExportFascicolo over the wire with Python grpcio against ``cassetto-server
--dev`` (demo data: Comune di Siena's GDP position G750000101 with notes, plans, declarations,
an ECA debit note and alerts): the streamed PDF, turned into text by ``pdftotext`` (Debian
poppler-utils), carries the identification, the position and its data, page numbers and the
production date; a caller without rights gets NOT_FOUND; bad input INVALID_ARGUMENT."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest

from identity_support import IdentityClient
from test_posizioni_gdp import generate_stubs

COMUNE = "00050800523"


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    stubs = generate_stubs(tmp_path_factory.mktemp("fascicolo-stubs"))
    data = tmp_path_factory.mktemp("fascicolo-data")
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        people = IdentityClient(server, data, cassetto_bin, stubs.identity)
        yield stubs.pb, stubs.grpc.PosizioniStub(people.channel), people
        people.close()


def export(env, who, tmp_path, **request):
    pb, stub, people = env
    pdf = b"".join(chunk.data for chunk in stub.ExportFascicolo(
        pb.ExportFascicoloRequest(**request), metadata=people.metadata(who), timeout=30))
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "fascicolo.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_dossier_of_a_position_and_of_a_subject(env, tmp_path):
    text = export(env, "public-employer", tmp_path, matricola="G750000101")
    for expected in ("Fascicolo aziendale", "Comune di Siena", COMUNE, "Posizione G750000101",
                     "dipendenti pubblici (GDP)", "Versamenti", "Note di rettifica",
                     "Denunce", "Piani di ammortamento", "Note di debito", "ECA-DEMO-2024",
                     "Evidenze", "Pagina 1 di", "Prodotto il"):
        assert expected in text, expected
    whole = export(env, "public-employer", tmp_path, subject_fiscal_code=COMUNE)
    assert "Posizione G750000101" in whole and "Posizione G750000102" in whole


def test_refusals(env):
    pb, stub, people = env
    def code(who, **request):
        with pytest.raises(grpc.RpcError) as caught:
            b"".join(c.data for c in stub.ExportFascicolo(
                pb.ExportFascicoloRequest(**request), metadata=people.metadata(who), timeout=30))
        return caught.value.code()
    assert code("citizen", matricola="G750000101") == grpc.StatusCode.NOT_FOUND
    assert code("citizen", subject_fiscal_code=COMUNE) == grpc.StatusCode.NOT_FOUND
    assert code("public-employer") == grpc.StatusCode.INVALID_ARGUMENT
    assert code("public-employer", matricola="G750000101", subject_fiscal_code=COMUNE) == \
        grpc.StatusCode.INVALID_ARGUMENT
