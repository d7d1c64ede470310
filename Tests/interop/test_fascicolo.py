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


def test_compute_sanzioni_eca(env):
    """Posizioni.ComputeSanzioniECA on the demo ECA note, itemised per period; late payment
    vs evasion; caps; refusals."""
    pb, stub, people = env
    from google.type import date_pb2
    owner = people.metadata("public-employer")
    late = stub.ComputeSanzioniECA(pb.ComputeSanzioniECARequest(
        nota_id="ECA-DEMO-2024", payment_date=date_pb2.Date(year=2025, month=9, day=30)),
        metadata=owner, timeout=15)
    assert late.nota_id == "ECA-DEMO-2024" and late.periods
    assert late.total_cents == sum(p.penalty_cents for p in late.periods) > 0
    assert all(p.days_late > 0 and p.rate_basis_points > 550 for p in late.periods)
    evasion = stub.ComputeSanzioniECA(pb.ComputeSanzioniECARequest(
        nota_id="ECA-DEMO-2024", payment_date=date_pb2.Date(year=2025, month=9, day=30),
        evasione=True), metadata=owner, timeout=15)
    assert evasion.total_cents > late.total_cents
    assert all(p.rate_basis_points == 3000 for p in evasion.periods)

    def code(who, request):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ComputeSanzioniECA(request, metadata=people.metadata(who), timeout=15)
        return caught.value.code()
    good = pb.ComputeSanzioniECARequest(nota_id="ECA-DEMO-2024",
                                        payment_date=date_pb2.Date(year=2025, month=9, day=30))
    assert code("citizen", good) == grpc.StatusCode.NOT_FOUND
    assert code("public-employer", pb.ComputeSanzioniECARequest(nota_id="ECA-DEMO-2024")) == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert code("public-employer", pb.ComputeSanzioniECARequest(
        nota_id="ECA-DEMO-2024", payment_date=date_pb2.Date(year=2025, month=2, day=30))) == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert code("public-employer", pb.ComputeSanzioniECARequest(
        nota_id="NO-SUCH-NOTE", payment_date=date_pb2.Date(year=2025, month=9, day=30))) == \
        grpc.StatusCode.NOT_FOUND


def test_contest_nota_debito(env):
    """Posizioni.ContestNotaDebito: refusals first (nothing stored), then the contest with a
    PDF attachment is recorded on the note; a second one is FAILED_PRECONDITION."""
    pb, stub, people = env
    pdf = b"%PDF-1.4\n" + b" " * 50_000

    def parts(nota="ECA-DEMO-2024", reason="Importi già versati con F24 del 16/12/2024.",
              files=((0, "ricevuta.pdf", pdf),)):
        yield pb.ContestNotaDebitoRequest(header=pb.ContestNotaDebitoHeader(
            nota_id=nota, reason=reason))
        for number, name, body in files:
            for offset in range(0, len(body), 64 * 1024):
                yield pb.ContestNotaDebitoRequest(chunk=pb.AttachmentChunk(
                    attachment=number, file_name=name, data=body[offset:offset + 64 * 1024]))

    def code(who, requests):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ContestNotaDebito(requests, metadata=people.metadata(who), timeout=15)
        return caught.value.code()

    assert code("citizen", parts()) == grpc.StatusCode.NOT_FOUND
    assert code("operator", parts()) == grpc.StatusCode.PERMISSION_DENIED
    assert code("public-employer", parts(reason="")) == grpc.StatusCode.INVALID_ARGUMENT
    four = tuple((n, f"r{n}.pdf", pdf) for n in range(4))
    assert code("public-employer", parts(files=four)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    big = ((0, "big.pdf", pdf + b" " * (3 * 1024 * 1024)),)
    assert code("public-employer", parts(files=big)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert code("public-employer", parts(files=((0, "x.pdf", b"hello"),))) == \
        grpc.StatusCode.INVALID_ARGUMENT
    listed = stub.ListNoteDebito(pb.ListNoteDebitoRequest(matricola="G750000101"),
                                 metadata=people.metadata("public-employer"), timeout=15)
    assert not [n for n in listed.note if n.id == "ECA-DEMO-2024"][0].contest_reason

    nota = stub.ContestNotaDebito(parts(), metadata=people.metadata("public-employer"),
                                  timeout=15)
    assert nota.id == "ECA-DEMO-2024" and nota.contest_reason.startswith("Importi")
    assert code("public-employer", parts()) == grpc.StatusCode.FAILED_PRECONDITION


def test_submit_denuncia_manuale(env):
    """Posizioni.SubmitDenunciaManuale: every bad line named, nothing stored; a good DMA is
    stored with source MANUALE and listed; a private position is FAILED_PRECONDITION."""
    pb, stub, people = env
    owner = people.metadata("public-employer")
    good = [pb.DenunciaLine(employee_fiscal_code="RSSMRA80A01H501U", fund_code="CPDEL",
                            taxable_cents=250_000, contribution_cents=81_625),
            pb.DenunciaLine(employee_fiscal_code="RSSMRA80A01H501U", fund_code="CTPS",
                            taxable_cents=100_000, contribution_cents=33_000)]
    bad = [pb.DenunciaLine(employee_fiscal_code="RSSMRA80A01H501X", fund_code="CPDEL",
                           taxable_cents=250_000, contribution_cents=81_625),
           pb.DenunciaLine(employee_fiscal_code="RSSMRA80A01H501U", fund_code="INPS",
                           taxable_cents=100_000, contribution_cents=1),
           pb.DenunciaLine(employee_fiscal_code="RSSMRA80A01H501U", fund_code="CPS",
                           taxable_cents=100_000, contribution_cents=40_000)]
    before = stub.ListDenunce(pb.ListDenunceRequest(matricola="G750000101"), metadata=owner,
                              timeout=15)
    with pytest.raises(grpc.RpcError) as refused:
        stub.SubmitDenunciaManuale(pb.SubmitDenunciaManualeRequest(
            matricola="G750000101", period="2025-06", lines=bad), metadata=owner, timeout=15)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    from identity_support import bad_request_fields
    assert set(bad_request_fields(refused.value)) >= {
        "lines[0].employee_fiscal_code", "lines[1].fund_code", "lines[2].contribution_cents"}
    after = stub.ListDenunce(pb.ListDenunceRequest(matricola="G750000101"), metadata=owner,
                             timeout=15)
    assert len(after.denunce) == len(before.denunce)

    stored = stub.SubmitDenunciaManuale(pb.SubmitDenunciaManualeRequest(
        matricola="G750000101", period="2025-06", lines=good, request_id="dma-1"),
        metadata=owner, timeout=15).denuncia
    assert stored.period == "2025-06" and stored.source == pb.DENUNCIA_SOURCE_MANUALE
    again = stub.SubmitDenunciaManuale(pb.SubmitDenunciaManualeRequest(
        matricola="G750000101", period="2025-06", lines=good, request_id="dma-1"),
        metadata=owner, timeout=15).denuncia
    assert again.id == stored.id
    listed = stub.ListDenunce(pb.ListDenunceRequest(matricola="G750000101"), metadata=owner,
                              timeout=15)
    assert stored.id in [d.id for d in listed.denunce]
    with pytest.raises(grpc.RpcError) as private:
        stub.SubmitDenunciaManuale(pb.SubmitDenunciaManualeRequest(
            matricola="7012345601", period="2025-06", lines=good),
            metadata=people.metadata("legal-representative"), timeout=15)
    assert private.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def tracciato_record(period, cf, fund, taxable, contribution):
    record = f"DL{period}{cf:<16}{fund:<5}{taxable:013d}{contribution:013d}" + " " * 8
    assert len(record) == 64
    return record


def test_upload_tracciato(env):
    """Posizioni.UploadTracciato: per-record results, good records stored by period with
    source TRACCIATO; oversize refused; private positions refused."""
    pb, stub, people = env
    owner = people.metadata("public-employer")
    cf = "RSSMRA80A01H501U"
    lines = [
        tracciato_record("2025-07", cf, "CPDEL", 250_000, 81_625),
        tracciato_record("2025-07", cf, "CTPS", 100_000, 33_000),
        tracciato_record("2025-08", cf, "CPDEL", 100_000, 32_650),
        tracciato_record("2025-08", cf, "XXXX", 100_000, 32_650),    # bad fund
        "DL2025-08" + "short",                                      # bad length
        tracciato_record("2025-13", cf, "CPDEL", 100_000, 32_650),  # bad period
        tracciato_record("2025-08", cf, "CPDEL", 100_000, 99_999),  # wrong contribution
    ]
    body = ("\r\n".join(lines) + "\r\n").encode()

    def parts(data, matricola="G750000101", size=100):
        yield pb.UploadTracciatoRequest(header=pb.UploadTracciatoHeader(
            matricola=matricola, file_name="dma-2025.txt"))
        for offset in range(0, len(data), size):
            yield pb.UploadTracciatoRequest(chunk=data[offset:offset + size])

    before = len(stub.ListDenunce(pb.ListDenunceRequest(matricola="G750000101"),
                                  metadata=owner, timeout=15).denunce)
    result = stub.UploadTracciato(parts(body), metadata=owner, timeout=15)
    assert (result.received, result.accepted, result.rejected) == (7, 3, 4)
    assert [(e.index, e.field) for e in result.errors] == [
        (3, "record.fund_code"), (4, "record"), (5, "period"), (6, "record.contribution_cents")]
    listed = stub.ListDenunce(pb.ListDenunceRequest(matricola="G750000101"), metadata=owner,
                              timeout=15).denunce
    assert len(listed) == before + 2
    assert {d.period for d in listed if d.source == pb.DENUNCIA_SOURCE_TRACCIATO} >= \
        {"2025-07", "2025-08"}

    def code(who, requests):
        with pytest.raises(grpc.RpcError) as caught:
            stub.UploadTracciato(requests, metadata=people.metadata(who), timeout=30)
        return caught.value.code()
    assert code("public-employer", parts(b"x" * (10 * 1024 * 1024 + 1), size=64 * 1024)) == \
        grpc.StatusCode.RESOURCE_EXHAUSTED
    assert code("citizen", parts(body)) == grpc.StatusCode.NOT_FOUND
    assert code("legal-representative", parts(body, matricola="7012345601")) == \
        grpc.StatusCode.FAILED_PRECONDITION
