"""cassetto.ticketing.v1.Ticketing, agenda half, over the wire with Python grpcio against
``cassetto-server --dev`` (demo data: ACME's position 7012345601 at sede 7000 ROMA EUR, its
legal representative, the operators of 7000 and 7500):

* communications from the institute: an operator of the position's sede sends, the company
  lists unread / read and marks read (first reader kept), others are refused;
* instant feedback: one per caller per interaction (ALREADY_EXISTS), field violations in
  google.rpc.BadRequest, statistics for operators only;
* agenda slots: an operator publishes for its sede (validated, idempotent), lists the free
  ones;
* booking: refused before the threshold (FAILED_PRECONDITION), allowed once the request is
  closed NON_ACCOLTA, the one seat taken (the next booking is RESOURCE_EXHAUSTED "slot full"),
  the booking in the request's history, cancellation frees the seat."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from identity_support import REPO_ROOT, IdentityClient, bad_request_fields

PROTOS = ("cassetto/common/v1/common.proto", "cassetto/identity/v1/identity.proto",
          "cassetto/ticketing/v1/ticketing.proto")
MATRICOLA = "7012345601"  # ACME, sede 7000 ROMA EUR


def generate_stubs(dest: Path) -> SimpleNamespace:
    import google.type.date_pb2 as date_pb2
    import grpc_tools

    dest.mkdir(parents=True, exist_ok=True)
    googleapis = Path(date_pb2.__file__).parents[2]
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO_ROOT / 'proto'}", f"-I{googleapis}",
         f"-I{well_known}", f"--python_out={dest}", f"--grpc_python_out={dest}", *PROTOS],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed:\n{result.stderr}")
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    mod = importlib.import_module
    return SimpleNamespace(
        common=mod("cassetto.common.v1.common_pb2"),
        pb=mod("cassetto.ticketing.v1.ticketing_pb2"),
        grpc=mod("cassetto.ticketing.v1.ticketing_pb2_grpc"),
        identity=SimpleNamespace(
            common=mod("cassetto.common.v1.common_pb2"),
            pb=mod("cassetto.identity.v1.identity_pb2"),
            grpc=mod("cassetto.identity.v1.identity_pb2_grpc")),
    )


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    stubs = generate_stubs(tmp_path_factory.mktemp("ticketing-stubs"))
    data = tmp_path_factory.mktemp("ticketing-data")
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        people = IdentityClient(server, data, cassetto_bin, stubs.identity)
        stub = stubs.grpc.TicketingStub(people.channel)
        yield SimpleNamespace(pb=stubs.pb, people=people, stub=stub)
        people.close()


def call(env, method, request, who=None):
    return getattr(env.stub, method)(request, metadata=env.people.metadata(who), timeout=15)


def code_of(env, method, request, who=None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call(env, method, request, who)
    return caught.value.code()


def error_of(env, method, request, who=None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(env, method, request, who)
    return caught.value


def test_comunicazioni_sent_by_the_sede_read_by_the_company(env):
    pb = env.pb
    send = pb.SendComunicazioneRequest(
        matricola=MATRICOLA, kind=pb.COMUNICAZIONE_KIND_IRREGOLARITA,
        title="Irregolarità UniEmens", body="Differenze tra denunce e versamenti di maggio.")
    sent = call(env, "SendComunicazione", send, "operator-roma")
    assert sent.sender == env.people.cf("operator-roma") and not sent.read
    # The operator of another sede does not see the position; the owner is not the institute.
    assert code_of(env, "SendComunicazione", send, "operator") == grpc.StatusCode.NOT_FOUND
    assert code_of(env, "SendComunicazione", send, "legal-representative") == \
        grpc.StatusCode.PERMISSION_DENIED
    assert code_of(env, "SendComunicazione", send) == grpc.StatusCode.UNAUTHENTICATED
    bad = error_of(env, "SendComunicazione", pb.SendComunicazioneRequest(matricola=MATRICOLA),
                   "operator-roma")
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(bad) == ["kind", "title", "body"]

    unread = call(env, "ListComunicazioni", pb.ListComunicazioniRequest(
        matricola=MATRICOLA, filter=pb.READ_FILTER_UNREAD), "legal-representative")
    assert sent.id in [c.id for c in unread.comunicazioni] and unread.unread_count >= 1
    before = unread.unread_count
    read = call(env, "MarkComunicazioneRead", pb.MarkComunicazioneReadRequest(id=sent.id),
                "legal-representative")
    assert read.read and read.read_by == env.people.cf("legal-representative")
    again = call(env, "MarkComunicazioneRead", pb.MarkComunicazioneReadRequest(id=sent.id),
                 "legal-representative")
    assert again == read
    assert code_of(env, "MarkComunicazioneRead", pb.MarkComunicazioneReadRequest(id=sent.id),
                   "operator-roma") == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(env, "MarkComunicazioneRead", pb.MarkComunicazioneReadRequest(id=sent.id),
                   "citizen") == grpc.StatusCode.NOT_FOUND
    after = call(env, "ListComunicazioni", pb.ListComunicazioniRequest(
        matricola=MATRICOLA, filter=pb.READ_FILTER_READ), "legal-representative")
    assert [c.id for c in after.comunicazioni][:1] == [sent.id]
    assert after.unread_count == before - 1


def test_feedback_once_per_interaction_and_stats_for_operators(env):
    pb = env.pb
    interaction = f"py-{time.time_ns()}"
    request = pb.SubmitFeedbackRequest(service="posizioni.ListVersamenti",
                                       interaction_id=interaction, rating=4, comment="Chiaro")
    feedback = call(env, "SubmitFeedback", request, "legal-representative")
    assert (feedback.service, feedback.rating, feedback.comment) == (
        "posizioni.ListVersamenti", 4, "Chiaro")
    assert code_of(env, "SubmitFeedback", request, "legal-representative") == \
        grpc.StatusCode.ALREADY_EXISTS
    bad = error_of(env, "SubmitFeedback", pb.SubmitFeedbackRequest(
        service="posizioni.Nope", interaction_id=interaction, rating=0), "citizen")
    assert bad_request_fields(bad) == ["service", "rating"]
    assert code_of(env, "GetFeedbackStats", pb.GetFeedbackStatsRequest(), "citizen") == \
        grpc.StatusCode.PERMISSION_DENIED
    stats = call(env, "GetFeedbackStats",
                 pb.GetFeedbackStatsRequest(service="posizioni.ListVersamenti"), "operator")
    [entry] = stats.services
    assert entry.count >= 1 and list(entry.distribution)[3] >= 1 and entry.with_comment >= 1


def test_slots_published_by_the_sede_and_listed_free(env):
    pb = env.pb
    from google.protobuf import timestamp_pb2

    start = timestamp_pb2.Timestamp(seconds=int(time.time()) + 7 * 86400)
    past = timestamp_pb2.Timestamp(seconds=int(time.time()) - 3600)
    publish = pb.PublishSlotsRequest(request_id=f"slots-{time.time_ns()}", slots=[
        pb.SlotSpec(start=start, length_minutes=30, channel=pb.CHANNEL_SPORTELLO, capacity=2)])
    published = call(env, "PublishSlots", publish, "operator-roma")
    [slot] = published.slots
    assert (slot.sede.code, slot.capacity, slot.booked) == ("7000", 2, 0)
    assert call(env, "PublishSlots", publish, "operator-roma") == published  # idempotent
    bad = error_of(env, "PublishSlots", pb.PublishSlotsRequest(slots=[
        pb.SlotSpec(start=past, length_minutes=30, channel=pb.CHANNEL_VIDEO, capacity=0)]),
        "operator-roma")
    assert bad_request_fields(bad) == ["slots[0].start", "slots[0].capacity"]
    assert code_of(env, "PublishSlots", pb.PublishSlotsRequest(sede_code="7000", slots=[
        pb.SlotSpec(start=start, length_minutes=30, channel=pb.CHANNEL_VIDEO, capacity=1)]),
        "operator") == grpc.StatusCode.PERMISSION_DENIED
    free = call(env, "ListAvailableSlots", pb.ListAvailableSlotsRequest(sede_code="7000"),
                "operator-roma")
    assert slot.id in [s.id for s in free.slots]


def test_booking_a_request_closed_non_accolta_one_seat(env):
    pb = env.pb
    from google.protobuf import timestamp_pb2

    owner = env.people.metadata("legal-representative")
    operator = env.people.metadata("operator-roma")

    def create():
        header = pb.CreateRichiestaHeader(
            matricola=MATRICOLA, subject_code="P01.02", text="Chiarimenti sui versamenti",
            contacts=pb.RichiestaContacts(email="mario.rossi@example.it"))
        return env.stub.CreateRichiesta(iter([pb.CreateRichiestaRequest(header=header)]),
                                        metadata=owner, timeout=15)

    first, second = create(), create()
    start = timestamp_pb2.Timestamp(seconds=int(time.time()) + 9 * 86400)
    [slot] = env.stub.PublishSlots(pb.PublishSlotsRequest(slots=[pb.SlotSpec(
        start=start, length_minutes=20, channel=pb.CHANNEL_TELEFONO, capacity=1)]),
        metadata=operator, timeout=15).slots

    # Just opened, no answer yet: the 30-day threshold has not passed.
    with pytest.raises(grpc.RpcError) as early:
        env.stub.BookAppointment(pb.BookAppointmentRequest(richiesta_id=first.id, slot_id=slot.id),
                                 metadata=owner, timeout=15)
    assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "threshold" in early.value.details()

    for r in (first, second):
        env.stub.TakeInCharge(pb.TakeInChargeRequest(id=r.id), metadata=operator, timeout=15)
        env.stub.CloseRichiesta(pb.CloseRichiestaRequest(
            id=r.id, esito=pb.ESITO_NON_ACCOLTA, comment="Non accolta."), metadata=operator,
            timeout=15)
    booked = env.stub.BookAppointment(pb.BookAppointmentRequest(
        richiesta_id=first.id, slot_id=slot.id), metadata=owner, timeout=15)
    assert booked.state == pb.APPOINTMENT_STATE_PRENOTATO and booked.slot.booked == 1
    with pytest.raises(grpc.RpcError) as full:
        env.stub.BookAppointment(pb.BookAppointmentRequest(
            richiesta_id=second.id, slot_id=slot.id), metadata=owner, timeout=15)
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert full.value.details().startswith("slot full")

    history = env.stub.GetRichiesta(pb.GetRichiestaRequest(id=first.id), metadata=owner,
                                    timeout=15).history
    assert history[-1].kind == pb.RICHIESTA_EVENT_KIND_APPOINTMENT_BOOKED

    cancelled = env.stub.CancelAppointment(pb.CancelAppointmentRequest(
        appointment_id=booked.id, reason="Risolto per telefono"), metadata=owner, timeout=15)
    assert cancelled.state == pb.APPOINTMENT_STATE_ANNULLATO and cancelled.slot.booked == 0
    again = env.stub.BookAppointment(pb.BookAppointmentRequest(
        richiesta_id=second.id, slot_id=slot.id), metadata=owner, timeout=15)
    listed = env.stub.ListAppointments(pb.ListAppointmentsRequest(sede_code="7000"),
                                       metadata=operator, timeout=15)
    assert again.id in [a.id for a in listed.appointments]
    assert booked.id not in [a.id for a in listed.appointments]
