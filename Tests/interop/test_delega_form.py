"""cassetto.deleghe.v1.Deleghe/GetDelegaForm over the wire with Python grpcio: the printable
PDF form of a delega a intermediario, streamed in chunks of at most 64 KiB, read back with
poppler's pdftotext; who may print it (the intermediary, the delegant) and who may not
(an unrelated person: NOT_FOUND; a delega a dipendente: FAILED_PRECONDITION).

Reuses test_deleghe's module fixture and helpers (its own server, its own data dir)."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest

from test_deleghe import (COMPANY, EMP, INTER, M1, OWNER, STRANGER, call, date, env,  # noqa: F401
                          fails, request_intermediario)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext (Debian poppler-utils) is not installed")


def form(e, delega_id: str, who: str) -> tuple[bytes, list]:
    stream = e.stub.GetDelegaForm(e.pb.GetDelegaFormRequest(id=delega_id),
                                  metadata=e.people.metadata(who), timeout=15)
    chunks = list(stream)
    return b"".join(c.data for c in chunks), chunks


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_form_of_a_delega_a_intermediario(env, tmp_path):
    pb = env.pb
    delega = call(env, "RequestDelegaIntermediario", pb.RequestDelegaIntermediarioRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(matricola=M1),
        delegant=pb.Party(fiscal_code=OWNER, given_name="Olga", family_name="Owner"),
        decorrenza=date(2024, 1, 1), end_date=date(2026, 12, 31)), INTER)
    pdf, chunks = form(env, delega.id, INTER)
    assert pdf.startswith(b"%PDF-"), pdf[:16]
    assert pdf.rstrip().endswith(b"%%EOF")
    assert chunks and all(0 < len(c.data) <= 64 * 1024 for c in chunks)
    assert chunks[0].content_type == "application/pdf"
    text = pdf_text(pdf, tmp_path)
    for expected in (INTER, OWNER, COMPANY, M1, "Delega a intermediario", "Gina Intermedia",
                     "Consulenti del lavoro, ordine di Roma, iscrizione n. 1234",
                     "Olga Owner", "Deleghe Test S.r.l.", "delega l'intermediario",
                     "cinque anni", "documento di identità", "01/01/2024", "31/12/2026",
                     "Firma del delegante", "Pagina 1 di 1", "Prodotto il"):
        assert expected in text, (expected, text)
    # The delegant (the subject's legal representative) may print the same form.
    owners_pdf, _ = form(env, delega.id, OWNER)
    assert OWNER in pdf_text(owners_pdf, tmp_path)


def test_form_refusals(env):
    pb = env.pb
    delega = request_intermediario(env)
    error = fails(lambda: form(env, delega.id, STRANGER))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error
    error = fails(lambda: form(env, "no-such-delega", INTER))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error
    dipendente = call(env, "CreateDelegaDipendente", pb.CreateDelegaDipendenteRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(matricola=M1),
        delegate=pb.Party(fiscal_code=EMP, given_name="Eva"), decorrenza=date(2024, 1, 1)),
        OWNER)
    error = fails(lambda: form(env, dipendente.id, OWNER))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
