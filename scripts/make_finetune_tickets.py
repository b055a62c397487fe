"""Writes the fine-tuning data: workbook/data/finetune_tickets{,_valid}.jsonl (+ the Bedrock copies).

How the tickets are made (also in workbook/data/README.md): each team has hand-written
*situations*, each worded three ways by hand (short, chatty, blunt). A ticket is one wording,
sometimes wrapped in a greeting, a sentence that says nothing about the team ("I've been a
customer for years"), an order or reference number, and a sign-off, and sometimes written in
lower case or with a shout -- so the model has to learn the team from the problem, not from the
packaging. Situations were chosen *not* to be the ones the course evaluates on (notebook 08's
20 tickets in workbook/data/support_tickets.jsonl): no double charges, VAT numbers, crashing
settings pages, password resets, PO boxes..., and every ticket is checked against those 20 for
word overlap (workbook.finetune.data.too_close; tests/finetune/test_data.py checks the files).

The validation split holds out whole wordings (about 15 % of them, every team alike), so it is
scored on sentences the model never trained on. Seeded: the same files every run.

    python scripts/make_finetune_tickets.py
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbook.finetune.data import (  # noqa: E402
    bedrock_record, chat_record, content_words, eval_tickets, too_close)

SEED = 21
DATA = ROOT / "workbook" / "data"

# team -> situations, each a tuple of hand-written wordings of the same problem.
SITUATIONS: dict[str, list[tuple[str, ...]]] = {
    "billing": [
        ("The promo code SPRING20 was accepted but the total did not go down.",
         "i typed in my discount code and it said valid, yet i paid full price??",
         "Coupon ignored at checkout. Want the difference back."),
        ("I need a proper receipt for my expense report, the email one is not enough.",
         "My accountant asks for receipts for the last three purchases, where can I download them?",
         "Send me a receipt with my company address on it."),
        ("Your price went up by 30% and nobody told me beforehand.",
         "Why am I suddenly paying more each month? I never agreed to a new price.",
         "Price hike without notice. Explain."),
        ("I was billed in US dollars although I live in France and chose euros.",
         "The charge on my statement is in dollars, so my bank added a conversion fee.",
         "Wrong currency on the charge."),
        ("My free trial turned into a paid plan without any reminder.",
         "I only wanted to test the service and now there is a charge of 49 pounds for the full plan.",
         "Trial converted to paid. I did not want that."),
        ("Can I get money back for the months I will not use on my annual plan?",
         "If I stop halfway through the year, do you return the rest of the fee?",
         "Pro-rata refund for the unused part of the year, please."),
        ("My gift card balance was not used when I paid.",
         "I have a 25 euro voucher but the whole amount went on my credit card instead.",
         "Voucher balance not applied to purchase."),
        ("Can our company pay by bank transfer instead of a card?",
         "Our finance department needs to pay against a purchase order, is that possible?",
         "Wire transfer payment option?"),
        ("After upgrading mid-month I got a strange partial charge I do not understand.",
         "The upgrade fee looks random, how did you calculate 17.43?",
         "Explain the prorated charge from the upgrade."),
        ("We are a registered charity, can you stop adding sales tax?",
         "Our school is tax-exempt; please remove the tax from future bills.",
         "Tax exemption for a nonprofit."),
        ("The payment has said pending for five days and the order is on hold.",
         "My bank shows the money reserved but your site still says payment pending.",
         "Payment stuck in pending."),
        ("Do you have a student discount?",
         "I'm at university, is there a cheaper price for students?",
         "Student pricing available?"),
        ("The amount I paid is higher than the price shown on your website.",
         "Website said 12.99, I was charged 15.99. Which is it?",
         "Charged more than the listed price."),
        ("Where can I download all my past statements in one go?",
         "I need a full payment history for the last two years for my taxes.",
         "Export billing history."),
        ("Why was I charged a late fee? I paid on the due date.",
         "There is a 10 dollar penalty on my bill even though the payment went out on time.",
         "Remove the late payment fee."),
        ("If I move to the basic plan, how much will my next payment be?",
         "I want to downgrade to save money, what will it cost from next month?",
         "Cheaper tier: new monthly cost?"),
        ("I paid for extra storage I never switched on.",
         "There is an add-on on my bill called Storage Plus that I did not buy.",
         "Unknown add-on charge on my bill."),
        ("My bank wants your reference before they can process my dispute about a payment.",
         "I filed a chargeback by mistake, how do I cancel it with you?",
         "Payment dispute: need a transaction reference."),
        ("How do I put a new credit card on file before the old one expires?",
         "My card expires next month, where do I enter the replacement so renewals keep working?",
         "Replace the payment card on file."),
        ("Can I split the cost of the order across two cards?",
         "I'd like to pay half with my debit card and half with my partner's card.",
         "Pay one order with two cards?"),
        ("You refunded me only half of what I paid for the returned jacket.",
         "The money back for the sweater I sent back is 20 euros short.",
         "Partial refund is less than the item price."),
        ("Does the price include tax or is it added at the end?",
         "Are your listed prices gross or net of sales tax?",
         "Tax included in price?"),
    ],
    "technical": [
        ("Videos never start, the spinner just keeps turning.",
         "when i press play nothing happens except a loading circle forever",
         "Video playback broken."),
        ("Exporting a report to PDF gives me a blank file.",
         "The PDF download opens fine but every page is empty white.",
         "PDF export produces empty pages."),
        ("In dark mode the text is black on a dark grey background and unreadable.",
         "Since I switched the theme to dark I cannot read half the labels.",
         "Dark theme contrast bug."),
        ("Your app drains my battery in an hour even when I'm not using it.",
         "My iPhone gets hot and the battery report blames your app.",
         "Battery drain from the app."),
        ("Search returns nothing even for items I know are there.",
         "I type the exact name of a document and the search says no results.",
         "Search is broken."),
        ("Your API keeps answering 429 although we send two requests a minute.",
         "Our integration gets 'too many requests' from the API since this morning.",
         "API rate-limit errors at very low traffic."),
        ("The barcode scanner is not recognised by the desktop program anymore.",
         "My USB label printer shows as offline in your software, it works in every other program.",
         "Hardware device not detected."),
        ("The installer fails on Windows 11 with 'package could not be registered'.",
         "I can't install the desktop version on my new MacBook, it says the file is damaged.",
         "Desktop install fails."),
        ("Keyboard shortcuts like Ctrl+S do nothing in the editor.",
         "None of the hotkeys work since yesterday, I have to click everything.",
         "Shortcuts stopped responding."),
        ("All the images on the dashboard show as broken icons.",
         "Pictures don't load, I only see little torn-paper symbols.",
         "Images not displaying."),
        ("The calendar integration creates every meeting twice.",
         "Each event I add shows up two times in my Outlook calendar.",
         "Calendar sync duplicates events."),
        ("On calls everyone hears an echo of their own voice.",
         "The audio in video meetings stutters and robots out after a few minutes.",
         "Call audio quality problem."),
        ("Importing my CSV turns all the accented letters into garbage characters.",
         "The spreadsheet upload fails with 'unexpected column count' but the file is fine.",
         "CSV import is broken."),
        ("Charts on the reports page stay empty in Safari.",
         "The graphs load in Chrome but not in Edge, just a grey box.",
         "Charts not rendering in one browser."),
        ("Our webhook stopped firing when a new order comes in.",
         "The callback URL we set up gets no requests anymore, nothing in our logs.",
         "Webhooks not being delivered."),
        ("The menu is cut off on my small laptop screen so I can't reach the save option.",
         "On my tablet the buttons overlap and I cannot tap the right one.",
         "Layout broken on small screens."),
        ("I lost an hour of edits because offline mode didn't keep them.",
         "Changes I made on the train disappeared once I was back online.",
         "Offline edits lost."),
        ("The page freezes when I scroll through a long list.",
         "Scrolling past a few hundred rows makes the whole tab hang.",
         "UI freezes on long lists."),
        ("My smartwatch won't pair with your app over Bluetooth.",
         "The fitness band connects and then drops after ten seconds.",
         "Bluetooth pairing fails."),
        ("The captcha never loads so I can't submit the contact form.",
         "The 'I am not a robot' box is missing and the form won't send.",
         "Captcha not showing."),
        ("Copy and paste from Word loses all the formatting in your editor.",
         "Pasting a table into a note turns it into one long line of text.",
         "Paste breaks formatting."),
        ("The screen goes black for a second every time I switch tabs.",
         "There's a flicker whenever the app redraws, it gives me a headache.",
         "Screen flickering."),
    ],
    "account": [
        ("How can I change my username?",
         "I picked a silly display name years ago, can I edit it?",
         "Rename my username."),
        ("I'd like to turn on two-factor authentication.",
         "Where do I set up an authenticator app for extra security when I sign in?",
         "Enable 2FA."),
        ("I lost the phone with my authenticator app and now I can't get past the login code.",
         "My new phone doesn't have the two-step codes and I'm locked out.",
         "Lost 2FA device, need access back."),
        ("I accidentally created two accounts, can you merge them?",
         "I have one profile with my work address and one with my private one, please combine them.",
         "Merge duplicate accounts."),
        ("Please make my colleague the owner of our workspace, I'm leaving the company.",
         "How do I hand over admin ownership before my last day?",
         "Transfer workspace ownership."),
        ("My account got locked after too many wrong attempts.",
         "It says my login is blocked for 24 hours, can you unlock it sooner?",
         "Account locked out."),
        ("I have a new mobile number, how do I update it on my profile?",
         "The phone number you have for me is old, I can't receive your texts.",
         "Update my phone number."),
        ("I want a copy of everything you store about me.",
         "Under GDPR I request an export of my profile information.",
         "Data export request."),
        ("A former employee still has access to our workspace, remove them please.",
         "Someone who left our firm can still sign in to our organisation, revoke their access.",
         "Remove an ex-employee's access."),
        ("I'm only a viewer but I need admin rights to invite people.",
         "Can you upgrade my role from member to administrator?",
         "Change my permissions."),
        ("The verification link in the sign-up email has expired.",
         "I never confirmed my address and now the confirm link says invalid.",
         "Resend verification link."),
        ("Sign in with Google no longer connects to my existing profile.",
         "When I log in through Apple it creates a brand new empty account.",
         "Social login linked to the wrong account."),
        ("My father passed away, how do we close his account?",
         "I'm handling my late mother's affairs and need to access or close her profile.",
         "Account of a deceased person."),
        ("How do I set up a child profile with parental controls?",
         "I want a restricted profile for my 10-year-old.",
         "Kids profile settings."),
        ("My profile shows the wrong time zone and language.",
         "Everything is in Spanish since I travelled, how do I switch my profile back to English?",
         "Change profile language."),
        ("Can I pause my account for a few months without losing anything?",
         "I want to deactivate temporarily while I'm abroad.",
         "Temporary deactivation."),
        ("How do I make my profile private so strangers can't see it?",
         "I don't want my name to show up when people search for members.",
         "Profile privacy settings."),
        ("It says my username is already taken, but I never signed up.",
         "Someone registered with my name, can I claim it?",
         "Username taken by someone else."),
        ("I don't remember the answer to my security question.",
         "The site asks for my first pet's name and I have no idea what I typed back then.",
         "Forgot security question answer."),
        ("Please sign me out of every device, I used a shared computer at the library.",
         "How do I end all my active sessions at once?",
         "Log out everywhere."),
        ("I want to change which email gets the weekly summary, not my login.",
         "Can a second address get copies of my account alerts?",
         "Add a secondary contact address."),
        ("My profile picture won't update, it keeps showing the old photo.",
         "I uploaded a new avatar but others still see the old one.",
         "Avatar not changing."),
    ],
    "shipping": [
        ("I ordered the blue version and got a red one.",
         "The size in the package is M but my order says L.",
         "Wrong item delivered."),
        ("The courier left my package at the wrong house.",
         "The driver's photo shows my parcel on a doorstep that isn't mine.",
         "Delivered to the wrong address by the driver."),
        ("What does shipping to Australia cost?",
         "How much is postage to Japan for two books?",
         "International shipping price?"),
        ("Can I collect my order from a parcel locker instead?",
         "Is there a pick-up point near the station so I don't have to wait at home?",
         "Pick up at a collection point."),
        ("My package is stuck in customs and they want import duties.",
         "The carrier says the shipment is held at the border for paperwork.",
         "Parcel held by customs."),
        ("Can the delivery require a signature? Things get stolen from my porch.",
         "Please make sure the courier hands it to a person and doesn't leave it outside.",
         "Signature on delivery please."),
        ("The delivery date has been pushed back twice now.",
         "First it was Monday, then Wednesday, now Friday. When will it actually come?",
         "Delivery keeps getting rescheduled."),
        ("Do you deliver on Saturdays?",
         "I work all week, can it arrive at the weekend?",
         "Weekend delivery option?"),
        ("I need a return label to send back the shoes.",
         "How do I post the coat back to you, do you send a prepaid label?",
         "Return shipping label."),
        ("The delivery driver was rude and threw the box over the fence.",
         "Your courier shouted at my elderly neighbour when she took the parcel in.",
         "Complaint about the courier."),
        ("The sofa has to go up to the fourth floor and there's no lift.",
         "Will your two-person crew carry the wardrobe upstairs?",
         "Heavy item to an upper floor."),
        ("Can you hold my parcel while I'm on holiday for two weeks?",
         "I'm away until the 20th, please don't send it before then.",
         "Delay dispatch until I'm back."),
        ("Do you ship to Brazil?",
         "Is your shop able to send orders to South Africa?",
         "Which countries do you ship to?"),
        ("It's a present: can you send it straight to my sister with a gift note?",
         "Ship to a friend's address and leave the price off the packing slip, please.",
         "Gift delivery to another person."),
        ("The tracking number you gave me belongs to someone else's order in another city.",
         "The carrier's site shows a different parcel for my tracking code.",
         "Tracking code is for the wrong parcel."),
        ("I made a typo in the postcode, will the parcel still find me?",
         "The label has my street right but the wrong zip code.",
         "Wrong postcode on the shipping label."),
        ("Can you pack my two orders together in one box?",
         "I placed two orders an hour apart, please ship them as one.",
         "Combine shipments."),
        ("Is there a slower, greener shipping option?",
         "I don't mind waiting a week if it means less packaging and fewer vans.",
         "Eco shipping choice?"),
        ("Which carrier do you use for deliveries to Ireland?",
         "Will my order come with the postal service or a private courier?",
         "Which courier ships my order?"),
        ("The package was left in the rain and everything inside is soaked.",
         "The courier left my order in a puddle, the cardboard fell apart.",
         "Parcel ruined by weather on the doorstep."),
        ("Has my order left your warehouse yet?",
         "It's been three days since I paid, has anything been dispatched?",
         "Dispatch status?"),
        ("Can I get next-day delivery if I order before noon?",
         "What's the cut-off time for same-day dispatch?",
         "Order cut-off for fast dispatch."),
    ],
}

GREETINGS = ["", "", "", "Hi, ", "Hello, ", "Hey there. ", "Good morning, ", "Dear support, ", "URGENT: ",
             "Quick question: ", "Hi team! "]
NEUTRAL = ["", "", "", "", "I've been a customer for years. ", "This is the second time I'm writing. ",
           "Sorry to bother you. ", "I'm really frustrated. ", "Not a big deal, but ",
           "My colleague suggested I ask you. ", "I tried the help pages already. "]
REFERENCES = ["", "", "", "", " (ref {n})", " Order {n}.", " Customer no. {n}.", " Case #{n}."]
SIGN_OFFS = ["", "", "", " Thanks.", " Thank you!", " Regards, Sam", " Please help asap!!", " Cheers",
             " Kind regards, M. Okafor", " Waiting for your reply.", " Thx"]


def dress(wording: str, rng: random.Random) -> str:
    """One ticket from a wording: optional greeting, neutral sentence, reference, sign-off, case."""
    neutral = rng.choice(NEUTRAL)
    body = wording[0].lower() + wording[1:] if neutral.endswith("but ") else wording
    text = (rng.choice(GREETINGS) + neutral + body
            + rng.choice(REFERENCES).format(n=rng.randint(10000, 99999)) + rng.choice(SIGN_OFFS)).strip()
    style = rng.random()
    if style < 0.12:
        text = text.lower()
    elif style < 0.17:
        text = text.rstrip(".!") + "!!!"
    return text


def main() -> int:
    rng = random.Random(SEED)
    held_out = {}
    for team, situations in SITUATIONS.items():
        wordings = [(team, s, w) for s, words in enumerate(situations) for w in words]
        rng.shuffle(wordings)
        held_out[team] = set(wordings[: round(len(wordings) * 0.15)])
    train, valid, seen = [], [], set()
    rejected = []
    for team, situations in SITUATIONS.items():
        for s, words in enumerate(situations):
            for wording in words:
                is_valid = (team, s, wording) in held_out[team]
                # Training wordings appear twice, dressed differently; validation ones once.
                for _ in range(1 if is_valid else 2):
                    for _attempt in range(20):
                        text = dress(wording, rng)
                        if text.lower() not in seen:
                            break
                    close = too_close(text)
                    if close:
                        rejected.append((text, close))
                        continue
                    seen.add(text.lower())
                    (valid if is_valid else train).append((text, team))
    if rejected:
        for text, close in rejected:
            print(f"too close to a course ticket, left out: {text!r} ~ {close!r}", file=sys.stderr)
    rng.shuffle(train)
    rng.shuffle(valid)
    for name, rows in (("finetune_tickets", train), ("finetune_tickets_valid", valid)):
        with open(DATA / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for text, team in rows:
                out.write(json.dumps(chat_record(text, team), ensure_ascii=False) + "\n")
        with open(DATA / f"{name}.bedrock.jsonl", "w", encoding="utf-8") as out:
            for text, team in rows:
                out.write(json.dumps(bedrock_record(text, team), ensure_ascii=False) + "\n")
    print(f"{len(train)} training and {len(valid)} validation tickets; "
          f"{len(eval_tickets())} course tickets kept out; {len(rejected)} rejected as too close")
    _ = content_words  # re-exported for readers of this script
    return 0


if __name__ == "__main__":
    sys.exit(main())
