"""The order form's behaviour, turn by turn, against the seeded demo shop."""

from __future__ import annotations

from actions.runtime import Runtime
from tests.actions.form_driver import FormDriver, kwargs_of


async def verify(driver: FormDriver, intent: str, order_id: str, contact: str) -> None:
    turn = await driver.say("hi, I need help with an order", intent)
    assert turn.responses[-1] == "utter_ask_order_id"
    turn = await driver.say(order_id)
    assert turn.responses[-1] == "utter_ask_order_contact"
    turn = await driver.say(contact)
    assert "utter_verified" in turn.responses


async def test_tracking_needs_both_details(runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("where is my order ORB 104388", "track_order")
    assert driver.slots["order_id"] == "ORB-104388"
    assert turn.responses == ["utter_ask_order_contact"]
    turn = await driver.say("my phone is 8 916 555 01 42")
    assert turn.responses[:2] == ["utter_verified", "utter_status_shipped"]
    shipped = kwargs_of(turn, "utter_status_shipped")
    assert shipped["tracking_number"] == "PN987654321DE"
    assert shipped["carrier"] == "national post"
    assert "Wednesday, 25 November" in shipped["window"]
    assert "Friday, 27 November" in shipped["window"]


async def test_order_number_formats(runtime: Runtime) -> None:
    for typed in ("ORB-104217", "orb104217", "104217", "ORB 104217", "it's orb-104217!"):
        driver = FormDriver(sender=f"formats-{typed}")
        await driver.say("where is my order", "track_order")
        await driver.say(typed)
        assert driver.slots["order_id"] == "ORB-104217", typed


async def test_wrong_details_disclose_nothing_and_lock_after_three(runtime: Runtime) -> None:
    driver = FormDriver(sender="attacker")
    await driver.say("where is my order", "track_order")
    for attempt, (order_id, contact) in enumerate(
        [("ORB-104217", "wrong@example.com"), ("ORB-999999", "anna.schmidt@example.com")], 1
    ):
        await driver.say(order_id)
        turn = await driver.say(contact)
        assert turn.responses == [f"utter_verification_failed_{'one' if attempt == 2 else 'other'}",
                                  "utter_ask_order_id"]
        assert kwargs_of(turn, turn.responses[0])["remaining"] == 3 - attempt
        # The same answer whether or not the order exists.
        assert driver.slots["verified_order_id"] is None
    await driver.say("ORB-104217")
    turn = await driver.say("+49 000 0000 000")
    assert turn.responses == ["utter_lookup_locked"]
    assert driver.slots["escalation_reason"] == "lookup_locked"  # a person takes over
    assert runtime.guard.max_failures == 3
    # Locked for the conversation, even with the right details and a fresh tracker.
    fresh = FormDriver(sender="attacker")
    turn = await fresh.say("where is ORB-104217 anna.schmidt@example.com", "track_order")
    assert turn.responses == ["utter_lookup_locked"]
    assert fresh.slots["verified_order_id"] is None


async def test_lost_parcel(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("my parcel ORB-104150 never arrived", "report_lost_parcel")
    turn = await driver.say("peter.novak@example.cz")
    assert "utter_parcel_lost" in turn.responses
    assert kwargs_of(turn, "utter_parcel_lost")["days"] == 8
    # The policy: a replacement or a refund, arranged by a person. No "anything else?".
    assert driver.slots["escalation_reason"] == "lost_parcel"
    assert "utter_anything_else" not in turn.responses


async def test_cancel_processing_order(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "cancel_order", "ORB-104402", "maria.rossi@example.it")
    assert driver.slots["requested_slot"] == "cancel_confirm"
    turn = await driver.say("/affirm", "affirm")
    assert "utter_order_cancelled" in turn.responses
    order = await runtime.shop.find_order("ORB-104402")
    assert order is not None and order.status == "cancelled"


async def test_cancel_shipped_order_is_refused(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("cancel ORB-104388", "cancel_order")
    turn = await driver.say("ivan.petrov@example.ru")
    assert "utter_cannot_cancel_in_transit" in turn.responses
    order = await runtime.shop.find_order("ORB-104388")
    assert order is not None and order.status == "shipped"


async def test_change_address(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "change_address", "ORB-104415", "olena.k@example.ua")
    turn = await driver.say("Berlin")
    assert turn.responses[0] == "utter_address_invalid"
    await driver.say("Hauptstraße 12, 10115 Berlin")
    turn = await driver.say("yes", "affirm")
    assert "utter_address_change_recorded" in turn.responses


async def test_return_with_hygiene_seal_and_fee(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "return_item", "ORB-104420", "tom.baker@example.com")
    # The gift card is explained as not returnable; the headphones are offered.
    assert driver.slots["requested_slot"] == "return_item"
    turn = await driver.say('/inform{"item": "GC-50"}')
    assert turn.responses[:2] == ["utter_item_not_returnable_non_returnable_category",
                                  "utter_choose_another_item"]
    turn = await driver.say('/inform{"item": "HP-BUDS-2"}')
    assert turn.responses == ["utter_ask_seal_intact"]
    turn = await driver.say("yes it is sealed", "affirm")
    assert turn.responses == ["utter_ask_return_reason"]
    turn = await driver.say("i just changed my mind")
    assert driver.slots["return_reason"] == "changed_mind"
    assert turn.responses == ["utter_return_cost_fee", "utter_ask_return_confirm"]
    assert kwargs_of(turn, "utter_return_cost_fee")["fee"] == "€4.95"
    turn = await driver.say("/affirm", "affirm")
    created = kwargs_of(turn, "utter_return_created")
    assert created["rma"].startswith("RMA-") and len(created["rma"]) == 10
    assert created["refund"] == "€124.05"  # 129.00 minus 4.95 return shipping
    record = await runtime.shop.get_return(created["rma"])
    assert record is not None and record.sku == "HP-BUDS-2" and record.fee == 4.95


async def test_broken_hygiene_seal_ends_the_return(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "return_item", "ORB-104420", "tom.baker@example.com")
    await driver.say("the buds")
    turn = await driver.say("no, I opened them", "deny")
    assert "utter_item_not_returnable_hygiene_seal_broken" in turn.responses
    assert (await runtime.shop.history("ORB-104420")).returns == []


async def test_return_not_delivered_suggests_cancel(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("I want to return ORB-104402", "return_item")
    turn = await driver.say("+39 333 111 2233")
    assert "utter_return_not_delivered_cancel" in turn.responses


async def test_return_expired_window(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("return my tablet ORB-103990 john.miller@example.com", "return_item")
    assert driver.slots["verified_order_id"] == "ORB-103990"


async def test_warranty_claim_with_serial_check(runtime: Runtime) -> None:
    driver = FormDriver(language="ru")
    await verify(driver, "warranty_claim", "ORB-102001", "s.smirnov@example.ru")
    # The charger's 12 months are over; the watch is offered.
    turn = await driver.say('/inform{"item": "SW-PULSE-2"}')
    assert turn.responses == ["utter_ask_serial_number"]
    turn = await driver.say("PLS2-0000-XX")
    assert turn.responses[0] == "utter_serial_mismatch"
    await driver.say("серийный номер PLS2-7781-QQ")
    turn = await driver.say("перестали заряжаться, экран не включается")
    assert turn.responses == ["utter_ask_warranty_confirm_repair"]
    turn = await driver.say("да", "affirm")
    created = kwargs_of(turn, "utter_warranty_claim_created_repair")
    claim = await runtime.shop.get_warranty_claim(created["claim_id"])
    assert claim is not None and claim.kind == "repair" and claim.serial == "PLS2-7781-QQ"


async def test_dead_on_arrival_exchange(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "warranty_claim", "ORB-104217", "anna.schmidt@example.com")
    await driver.say("the smartphone")
    await driver.say("NV7-88A1-2231")
    turn = await driver.say("it restarts every few minutes")
    assert turn.responses == ["utter_ask_warranty_confirm_doa"]
    turn = await driver.say("yes please", "affirm")
    assert "utter_warranty_claim_created_doa_exchange" in turn.responses


async def test_accidental_damage_is_not_covered(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "warranty_claim", "ORB-104217", "anna.schmidt@example.com")
    await driver.say("phone")
    await driver.say("NV7-88A1-2231")
    turn = await driver.say("I dropped it and the screen cracked")
    assert "utter_warranty_accidental" in turn.responses
    assert (await runtime.shop.history("ORB-104217")).claims == []


async def test_expired_warranty_explained(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("my laptop broke, warranty please", "warranty_claim")
    await driver.say("ORB-100777")
    turn = await driver.say("laura.becker@example.de")
    assert turn.responses[:3] == ["utter_verified", "utter_warranty_none_covered",
                                  "utter_warranty_item_expired"]
    assert kwargs_of(turn, "utter_warranty_item_expired")["months"] == 24


async def test_interruptions_the_rules_answer_are_left_to_rasa(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("where is my order", "track_order")
    for text, intent in [("are you a bot?", "bot_challenge"), ("I want a human", "request_human"),
                         ("hello", "greet"), ("no", "deny"), ("stop", "stop")]:
        assert (await driver.say(text, intent)).rejected, text
    # Data wins over the intent: a greeting with an order number fills the slot.
    turn = await driver.say("hi, it is ORB-104217", "greet")
    assert not turn.rejected and driver.slots["order_id"] == "ORB-104217"


async def test_anything_else_is_an_answer_with_a_hint(runtime: Runtime) -> None:
    driver = FormDriver()
    await driver.say("where is my order", "track_order")
    for text, intent in [("blah", "inform"), ("what's the weather", "out_of_scope")]:
        turn = await driver.say(text, intent)
        assert not turn.rejected
        assert turn.responses == ["utter_order_id_invalid", "utter_ask_order_id"]
    turn = await driver.say("where is my order??", "track_order")  # asked again: same job
    assert turn.responses == ["utter_ask_order_id"] and not turn.rejected
    # The third answer that does not fit ends the form and offers a person.
    turn = await driver.say("hmm", "nlu_fallback")
    assert turn.responses == ["utter_order_id_invalid", "utter_form_gave_up"]
    assert driver.slots["escalation_reason"] == "form_failed"


async def test_switching_job_keeps_the_verified_order(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "return_item", "ORB-104217", "anna.schmidt@example.com")
    assert driver.slots["requested_slot"] == "return_item"
    turn = await driver.say("actually, where is it? I want to track it", "track_order")
    assert not turn.rejected
    assert "utter_status_delivered" in turn.responses  # tracked, then the form ended


async def test_open_questions_take_the_customers_words(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "warranty_claim", "ORB-104217", "anna.schmidt@example.com")
    await driver.say("the case")
    await driver.say("no serial on it but the box says CASE-7781")
    # Sounds like a new warranty request, but it answers the open question.
    turn = await driver.say("it broke, I need a warranty repair please", "warranty_claim")
    assert driver.slots["fault_description"].startswith("it broke")
    assert turn.responses == ["utter_ask_warranty_confirm_repair"]
    assert (await driver.say("stop", "stop")).rejected


async def test_a_new_job_on_a_verified_order_checks_the_policy_again(runtime: Runtime) -> None:
    driver = FormDriver()
    await verify(driver, "track_order", "ORB-104217", "anna.schmidt@example.com")
    turn = await driver.say("ok then cancel it", "cancel_order")  # delivered: not cancellable
    assert turn.responses[0] == "utter_cannot_cancel_delivered"
    turn = await driver.say("I want to return the case", "return_item")
    assert driver.slots["return_item"] == "AC-CASE-N7"  # named in the request
    assert turn.responses == ["utter_ask_return_reason"]


# What the first message says is used: nothing the customer already said is asked again.

async def test_a_return_request_that_says_everything_needs_only_the_confirmation(
        runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("I want to return the case from order ORB-104217, "
                            "anna.schmidt@example.com, I don't need it any more", "return_item")
    assert driver.slots["return_item"] == "AC-CASE-N7"
    assert driver.slots["return_reason"] == "changed_mind"
    assert turn.responses == ["utter_verified", "utter_return_cost_fee",
                              "utter_ask_return_confirm"]
    turn = await driver.say("yes", "affirm")
    assert "utter_return_created" in turn.responses


async def test_item_words_in_russian_and_ukrainian_find_the_item(runtime: Runtime) -> None:
    driver = FormDriver(language="ru")
    await driver.say("хочу вернуть чехол, заказ ORB-104217", "return_item")
    turn = await driver.say("anna.schmidt@example.com")
    assert driver.slots["return_item"] == "AC-CASE-N7"
    assert turn.responses[-1] == "utter_ask_return_reason"
    driver = FormDriver(language="uk")
    turn = await driver.say("годинник із замовлення ORB-102001 перестав заряджатися, "
                            "s.smirnov@example.ru, серійний номер PLS2-7781-QQ", "warranty_claim")
    assert driver.slots["warranty_item"] == "SW-PULSE-2"
    assert driver.slots["serial_number"] == "PLS2-7781-QQ"
    assert driver.slots["fault_description"]
    assert turn.responses[-1] == "utter_ask_warranty_confirm_repair"


async def test_a_serial_that_is_not_the_items_own_is_still_asked(runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("my smartwatch from ORB-102001 stopped charging, serial "
                            "PLS2-0000-XX, s.smirnov@example.ru", "warranty_claim")
    assert driver.slots["warranty_item"] == "SW-PULSE-2"
    assert driver.slots["serial_number"] is None
    assert turn.responses[-1] == "utter_ask_serial_number"


async def test_can_i_still_return_my_item_is_answered(runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("can I still return the silicone case from ORB-104217? "
                            "anna.schmidt@example.com", "return_item")
    assert turn.responses == ["utter_verified", "utter_return_item_eligible",
                              "utter_ask_return_reason"]


async def test_words_that_fit_several_items_ask_with_those_items(runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("I'd like to return the nova 7 from ORB-104217, "
                            "anna.schmidt@example.com", "return_item")
    assert driver.slots["item_candidates"] == ["PH-NOVA-7", "AC-CASE-N7"]
    assert turn.responses[-1] == "utter_ask_return_item"
    assert [b["title"] for b in turn.messages[-1]["buttons"]] == [
        "Nova 7 smartphone, 128 GB", "Nova 7 silicone case"]
    turn = await driver.say("the silicone case")
    assert driver.slots["return_item"] == "AC-CASE-N7"
    assert driver.slots["item_candidates"] is None
    assert driver.slots["form_failures"] == 0
    assert turn.responses == ["utter_ask_return_reason"]


async def test_a_question_about_my_item_is_answered_by_the_check(runtime: Runtime) -> None:
    driver = FormDriver()
    turn = await driver.say("is my TV from order ORB-101500 still under warranty? "
                            "d.volkov@example.ru", "warranty_claim")
    # Orbita Care adds two years to the TV's 24 months: the check says so, then the claim.
    assert turn.responses == ["utter_verified", "utter_warranty_item_covered",
                              "utter_ask_serial_number"]
    assert kwargs_of(turn, "utter_warranty_item_covered")["months"] == 48


async def test_a_request_that_verifies_in_the_same_message_is_read_once(runtime: Runtime) -> None:
    driver = FormDriver()
    text = "my smartwatch from ORB-102001 stopped charging, s.smirnov@example.ru"
    await driver.say(text, "warranty_claim")
    assert driver.slots["fault_description"] == text
