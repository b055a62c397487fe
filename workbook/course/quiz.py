"""The module quiz: multiple-choice questions with feedback for every option.

Plain data and functions (``check``, ``QuizState``), unit-tested; ``quiz_widget`` wraps them in
ipywidgets for the notebook. Each question has exactly one right answer, and every option --
right or wrong -- explains itself, because a wrong answer is where the learning happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import costs


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[Option, ...]
    topic: str = ""

    def __post_init__(self):
        right = [o for o in self.options if o.correct]
        if len(right) != 1:
            raise ValueError(f"question {self.id!r} has {len(right)} right answers; it needs exactly one")
        if len(self.options) < 2:
            raise ValueError(f"question {self.id!r} needs at least two options")
        if any(not o.feedback.strip() for o in self.options):
            raise ValueError(f"question {self.id!r}: every option needs feedback")
        if len({o.text for o in self.options}) != len(self.options):
            raise ValueError(f"question {self.id!r} repeats an option")

    @property
    def answer(self) -> Option:
        return next(o for o in self.options if o.correct)

    @property
    def answer_index(self) -> int:
        return next(i for i, o in enumerate(self.options) if o.correct)

    def option(self, choice: int | str | Option) -> Option:
        """An option by index, by its text, or the option itself."""
        if isinstance(choice, Option):
            if choice not in self.options:
                raise ValueError(f"that option does not belong to question {self.id!r}")
            return choice
        if isinstance(choice, bool):
            raise TypeError("choose an option by index or text")
        if isinstance(choice, int):
            if not 0 <= choice < len(self.options):
                raise ValueError(f"question {self.id!r} has options 0..{len(self.options) - 1}")
            return self.options[choice]
        for option in self.options:
            if option.text == choice:
                return option
        raise ValueError(f"{choice!r} is not an option of question {self.id!r}")


@dataclass(frozen=True)
class Result:
    question_id: str
    chosen: str
    correct: bool
    feedback: str
    right_answer: str

    def __str__(self) -> str:
        mark = "Right" if self.correct else "Not quite"
        text = f"{mark}: {self.feedback}"
        if not self.correct:
            text += f"\nThe right answer: {self.right_answer}"
        return text


def check(question: Question, choice: int | str | Option) -> Result:
    option = question.option(choice)
    return Result(question.id, option.text, option.correct, option.feedback, question.answer.text)


@dataclass
class QuizState:
    """The answers given so far (the last answer per question counts)."""

    questions: tuple[Question, ...]
    results: dict[str, Result] = field(default_factory=dict)

    def answer(self, question_id: str, choice: int | str | Option) -> Result:
        result = check(question(question_id, self.questions), choice)
        self.results[question_id] = result
        return result

    @property
    def score(self) -> int:
        return sum(r.correct for r in self.results.values())

    @property
    def answered(self) -> int:
        return len(self.results)

    def summary(self) -> str:
        return f"{self.score} of {len(self.questions)} right ({self.answered} answered)"


def O(text: str, feedback: str, correct: bool = False) -> Option:  # noqa: E743 - terse table below
    return Option(text, correct, feedback)


# Right answers are spread over the positions, and options are written to comparable length, so
# that no blind strategy (always the longest, the shortest, or the same position) passes:
# tests/unit/test_quiz.py measures those strategies. Scenario facts come from the workbook's own
# notebooks (01, 02, 05, 07, 08) and settings code, which cite the providers' documentation.
# Question "break-even" quotes notebook 07's cost model (workbook.course.costs), not figures of its own.
_SELF_HOSTED = costs.CostInputs(tokens_per_day=0)

QUESTIONS: tuple[Question, ...] = (
    Question("fine-tune-when", "When should you fine-tune a model instead of prompting or RAG?", (
        O("When the model must answer from your own documents, which change every week.",
          "That is retrieval's job: RAG puts today's documents in the prompt. Fine-tuning bakes in "
          "a snapshot and is a poor way to teach facts that change."),
        O("At the very start of a project, so that the prompts can stay short from day one.",
          "Without a measured baseline you cannot tell what training bought. The labelled examples "
          "it needs also work untrained: as few-shot examples, retrieved into the prompt, or as a "
          "nearest-example vote; notebook 08 measures each of them and the fine-tune on the same tickets."),
        O("When answers run too long and you want them to fit a smaller token budget.",
          "Ask for shorter answers and set max_tokens: a prompt change, no training needed."),
        O("When the fine-tune beats every untrained use of the same labelled data by more than a held-out test's noise.",
          "Yes. Fine-tuning changes *how* a model answers (format, tone, jargon, a narrow task). It "
          "earns its training and serving only if it clearly beats every untrained use of the same "
          "labelled examples on a test set -- by more than that set's noise.", True),
    ), "fine-tuning"),
    Question("self-hosted-advantage", "What is the key advantage of self-hosted models?", (
        O("Control: data stays on your machines, and you pick the model version and its uptime.",
          "Yes. Data that never leaves your machines settles privacy and data-residency questions; "
          "control over versions, latency and availability comes with it.", True),
        O("Cost: running your own model is cheaper than an API at every volume of traffic you get.",
          "Only above the break-even volume: an idle GPU still costs its hourly price, and a cheap "
          "API model may never be beaten (notebook 07)."),
        O("Quality: open-weight models you host answer better than frontier API models.",
          "Open-weight models are good, but the frontier is usually behind an API; self-hosting "
          "often trades some quality for control."),
        O("Effort: a self-hosted model needs no operations work once it has been installed.",
          "The opposite: GPUs, a serving stack, monitoring, updates and on-call are now yours."),
    ), "self-hosting"),
    Question("provider-pattern", "Which pattern does the workbook's provider layer use?", (
        O("Singleton: one global client object, shared by every part of the program.",
          "There is no single client: each provider builds its own, and you may hold several at "
          "once (notebook 11 races them)."),
        O("Observer: providers publish each answer to the listeners that subscribed.",
          "Streams are async iterators the caller pulls from; nothing subscribes."),
        O("Protocol + Factory: a Protocol names the methods; a factory builds from settings.",
          "Yes. The Protocol is structural (any class with chat and chat_stream fits, no base "
          "class), and create_ai_provider turns configuration into an object, so switching "
          "provider is configuration.", True),
        O("Inheritance: every provider must subclass one abstract base class before it can be used.",
          "A Protocol needs no inheritance: a class with just chat and chat_stream works "
          "everywhere. (Some built-ins share code by subclassing, but nothing requires it.)"),
    ), "abstraction"),
    Question("azure-404", "Azure OpenAI answers 404 DeploymentNotFound. What is the most likely cause?", (
        O("The API key is wrong, or it belongs to a different Azure OpenAI resource.",
          "A wrong key answers 401, not 404 (notebook 01)."),
        O("AI__AZURE_OPENAI_DEPLOYMENT holds the model's name, not the deployment's name.",
          "Yes. Azure routes by the name you gave the deployment; copy it from the Foundry "
          "portal, under Models + endpoints (notebook 01).", True),
        O("The resource received too many requests and refuses new ones for a while.",
          "Too many requests answers 429 with Retry-After; the workbook retries it first."),
        O("Streaming is switched off for this resource, so chat_stream cannot connect.",
          "Azure OpenAI streams with the same server-sent events as OpenAI; nothing to switch on."),
    ), "api services"),
    Question("bedrock-auth", "How does the workbook's bedrock provider authenticate?", (
        O("With an AI__BEDROCK_API_KEY variable that holds a key copied from the console.",
          "There is no such setting: the bedrock provider uses AWS credentials."),
        O("It sends no credentials at all when the code runs inside the company's VPC.",
          "Every Bedrock request is authenticated, inside a VPC too: signed with IAM credentials, "
          "or carrying a Bedrock API key (notebook 02)."),
        O("With the e-mail and password of the AWS account's root user, kept in .env.",
          "Never give applications root credentials: use a role or an SSO profile."),
        O("Through the AWS credentials chain: environment, profile or SSO, or a role.",
          "Yes. boto3 finds credentials itself and signs each request (SigV4); on a laptop use "
          "an SSO profile, inside AWS a role (notebook 02).", True),
    ), "bedrock"),
    Question("inference-profile", "Bedrock answers \"on-demand throughput isn't supported\" for a new "
             "model. What do you change?", (
        O("The model id: call it through an inference profile, e.g. the us. or eu. prefixed id.",
          "Yes. Many newer models are served on demand only through inference profiles, whose ids "
          "carry a geography prefix (us., eu., ...) or global. (notebook 02)", True),
        O("The region: newer models are served on demand only in us-east-1, so move the client there.",
          "The profile, not the region, is what is missing: the same error comes back in "
          "every region where the model is offered only through profiles."),
        O("The retries: raise AI__MAX_RETRIES so that the call gets through eventually.",
          "Retrying cannot fix a request Bedrock rejects as invalid: it is not a rate limit."),
        O("The contract: buy Provisioned Throughput for the model before the first call.",
          "Possible, but costly and rarely needed; the inference profile is the on-demand route."),
    ), "bedrock"),
    Question("continuous-batching", "Why does vLLM serve many concurrent users per GPU better than a "
             "server that answers one request at a time?", (
        O("It loads a smaller, quantised copy of the model whenever its queue of requests grows.",
          "Same model; the serving strategy is what differs."),
        O("It caches every answer it has given and replays it when a prompt repeats.",
          "Prefix caching reuses shared prompt prefixes, but answers are still generated."),
        O("Continuous batching: at each decoding step requests join and leave one batch.",
          "Yes. Decoding is memory-bound, so a step for many sequences costs little more than for "
          "one, and PagedAttention fits their KV caches in memory; throughput grows with "
          "concurrency until compute or memory runs out.", True),
        O("It skips the attention computation for the older tokens of long prompts.",
          "Attention is computed in full; PagedAttention only stores its cache better."),
    ), "self-hosting"),
    Question("small-model", "What can the bundled SmolLM2-135M do reliably in this workbook?", (
        O("Answer factual questions accurately enough to quote the answers to customers.",
          "It gets some simple facts right but also invents answers (notebook 06 measures it)."),
        O("Run the workbook offline: the plumbing, streaming, timing and lenient checks.",
          "Yes. Its weights ship with the workbook (notebook 00's environment check finds them on every "
          "backend) and it answers on a plain CPU, offline: ideal for demos and tests -- not for quality.", True),
        O("Follow strict output formats, such as \"reply with the year only\", every time.",
          "It mostly ignores such instructions and answers in a sentence; strict formats need "
          "constrained decoding, fine-tuning or a bigger model (notebooks 06a and 08)."),
        O("Replace a frontier model in a product, once it has been given a good prompt.",
          "Not at 135M parameters: a good prompt does not make up for the size."),
    ), "small models"),
    Question("switch-provider", "How do you switch the workbook from Ollama to Azure OpenAI?", (
        O("Rewrite the calls in your code with the Azure SDK's client and its methods.",
          "No code change is needed: that is what the abstraction is for."),
        O("Subclass OllamaProvider and point its base URL at the Azure endpoint.",
          "OllamaProvider speaks Ollama's native /api/chat, which Azure does not serve; Azure has "
          "its own provider already (azure_openai)."),
        O("Restart JupyterLab and choose the kernel that has the Azure packages in it.",
          "Kernels have nothing to do with providers: one kernel runs them all."),
        O("Set AI__PROVIDER=azure_openai and the AI__AZURE_OPENAI_* variables in .env.",
          "Yes. The factory reads the settings and builds the other provider; your code keeps "
          "calling chat and chat_stream (notebook 05).", True),
    ), "configuration"),
    Question("data-residency", "A clinic's prompts must be processed inside the EU. Which choice "
             "keeps that promise?", (
        O("An Azure OpenAI Global Standard deployment on a resource in an EU region.",
          "Global deployments may route a request to any Azure region for capacity; the "
          "resource's own region does not bind them."),
        O("Any cloud API at all, because traffic is encrypted with TLS on the way there.",
          "Encryption protects data in transit; it says nothing about where it is processed."),
        O("An Azure OpenAI Standard deployment in an EU region, or an EU Data Zone one.",
          "Yes. A regional Standard deployment processes in its region and a Data Zone one inside "
          "the EU zone (notebook 01; on Bedrock, an eu. inference profile plays that role; "
          "self-hosting in an EU data centre also works).", True),
        O("A Bedrock global inference profile called from the eu-central-1 region.",
          "A global profile may send the request to any commercial AWS region; an eu. "
          "profile stays in the EU."),
    ), "api services"),
    Question("entra-vs-keys", "Why do production teams call Azure OpenAI with Microsoft Entra ID "
             "rather than API keys?", (
        O("There is no long-lived secret to leak: short-lived tokens, per-identity roles.",
          "Yes. A managed identity or az login gets a token; access is the Cognitive Services "
          "OpenAI User role, granted and revoked per identity, with nothing to rotate "
          "(notebook 01).", True),
        O("Calls with Entra ID tokens are billed at a lower price per million tokens.",
          "The price per token is the same; what changes is how callers prove who they are."),
        O("Entra ID tokens skip the rate limits that apply to the calls made with an API key.",
          "Quota belongs to the deployment, whichever way the caller authenticates."),
        O("API keys stop working after thirty days, while Entra ID tokens never expire.",
          "The reverse: keys live until rotated, tokens expire within hours and are renewed."),
    ), "api services"),
    Question("break-even", f"An API bill is $300 a month. Self-hosting the same load takes "
             f"{_SELF_HOSTED.min_servers} GPU servers (one kept for availability), "
             f"${_SELF_HOSTED.min_servers * _SELF_HOSTED.server_monthly:,.0f} a month together, plus "
             f"${_SELF_HOSTED.ops_monthly:,.0f} a month to operate them (notebook 07's assumptions). "
             "What follows?", (
        O("Self-host now: a server you own gets cheaper per token as the traffic grows.",
          "It does, but only past the break-even volume; at today's volume it costs more."),
        O("Stay on the API: below the break-even volume, an idle GPU still costs its price.",
          "Yes. The servers are billed by the hour whether busy or idle, and the people who run "
          "them are paid either way; self-hosting pays off only once traffic grows past the "
          "break-even volume (notebook 07).", True),
        O("Self-host now: the GPU's hourly price does not depend on how busy it is.",
          "That is exactly why it loses at low volume: you pay for the idle hours too."),
        O("Stay on the API: self-hosting never pays off, whatever the volume of traffic becomes.",
          "It can: past the break-even volume a busy server produces tokens more cheaply "
          "than a pricey API (unless the API model is very cheap)."),
    ), "model selection"),
    Question("ticket-router", "A small model routes support tickets badly: it chats instead of naming "
             "the team. What do you try first?", (
        O("Fine-tune it on a few thousand labelled tickets before changing anything else.",
          "Then nothing tells you what the training bought: the same labelled tickets, retrieved "
          "into the prompt or voting with no model, are the baseline it has to beat (notebook 08)."),
        O("Switch to a larger model at once, since small models cannot follow formats.",
          "Maybe in the end, but measure first: a schema fixes the format of any model's answer "
          "(notebook 06a), and the test set tells you whether the choice of team is the problem."),
        O("Write a longer system prompt, and stop there if a few answers look right.",
          "\"A few answers look right\" is not a measurement: grade each change on the same "
          "labelled test tickets, the way the router reads the answer."),
        O("Grade prompts, retrieved examples and a schema on a labelled test set, cheapest first.",
          "Yes. Each costs minutes to try; notebook 08 grades them on the same 20 tickets beside a "
          "fine-tune given the same labelled data, and decides by a rule fixed in advance.", True),
    ), "fine-tuning"),
    Question("env-precedence", "A student's .env says AI__PROVIDER=ollama; they run "
             "AI__PROVIDER=mock make lab. Which provider does create_ai_provider() build in their own code "
             "(and in a notebook run with BACKEND = \"live\")?", (
        O("mock: a variable set in the environment wins over the same line in .env.",
          "Yes. load_settings() merges .env first and the environment over it; only "
          "override=True lets the file win (notebook 05).", True),
        O("ollama: the .env file is read last, so each of its lines replaces the others.",
          "The workbook reads .env but lets the real environment win, python-dotenv's own rule."),
        O("Neither: the workbook stops with an error naming the variable set twice.",
          "Setting a variable in both places is normal: the environment simply wins."),
        O("ollama: variables that start with AI__ are only ever read from a .env file.",
          "They are read from both; the environment wins unless override=True."),
    ), "configuration"),
    Question("gather", "Two providers answer in about 2 s each. How long do `await asyncio.gather(a, b)` "
             "and two awaits in a row take?", (
        O("Both take about 4 s: a notebook's event loop runs one coroutine at a time.",
          "One coroutine *runs* at a time, but while one waits on the network the other "
          "proceeds; waiting is what overlaps."),
        O("Both take about 2 s: asyncio runs every awaited call in a thread of its own.",
          "Awaits in a row wait one after another: the second call starts when the first ends."),
        O("gather about 2 s, in a row about 4 s: their waits overlap only under gather.",
          "Yes. gather runs both coroutines concurrently, so the waits overlap; awaiting them "
          "one after the other adds them up (notebook 00a measures it).", True),
        O("gather about 4 s, in a row about 2 s: gather waits for both answers to finish.",
          "gather does wait for both, but they run together, so the total is the slower of the "
          "two, not the sum."),
    ), "asyncio"),
)

# A question for trying the checker: the quiz notebook demonstrates check() on this one, so
# that running every cell shows no answer to the real questions.
PRACTICE = Question("practice", "Practice: which two BACKENDs need no model at all?", (
    O("local and mock: SmolLM2 in the kernel, and scripted replies.",
      "local runs a real (small) model in the kernel; mock is one of the two."),
    O("mock and emulator: scripted replies, in the kernel or over each real protocol.",
      "Yes. Both script their replies: the mock inside the kernel, the emulator (as BACKEND=\"emulator\" "
      "starts it) as a local server speaking each provider's real wire format.", True),
    O("emulator and live: a local server, and whatever .env configures.",
      "live uses your configured provider: a real model somewhere; the emulator is one of the two."),
), "practice")


def blind_strategy_scores(questions: tuple[Question, ...] = QUESTIONS) -> dict[str, float]:
    """What someone who never reads a question would score, per strategy (0..1).

    Strategies: always the longest option, always the shortest, always option A, B, ...
    When several options tie for longest (shortest), the pick is a coin toss among them, so the
    score counts the right one's share of the tie.
    """
    def extreme(pick) -> float:
        total = 0.0
        for item in questions:
            target = pick(len(o.text) for o in item.options)
            tied = [o for o in item.options if len(o.text) == target]
            total += sum(o.correct for o in tied) / len(tied)
        return total / len(questions)

    scores = {"always the longest option": extreme(max), "always the shortest option": extreme(min)}
    for position in range(max(len(item.options) for item in questions)):
        right = sum(item.answer_index == position for item in questions)
        scores[f"always option {'ABCDEFGH'[position]}"] = right / len(questions)
    return scores


def question(question_id: str, questions: tuple[Question, ...] = QUESTIONS) -> Question:
    for item in questions:
        if item.id == question_id:
            return item
    raise KeyError(f"no question {question_id!r}; ids: {', '.join(q.id for q in questions)}")


def _html(text: str) -> str:
    """A question's text as HTML: escaped, with its `code` and *emphasis* rendered, not shown as marks."""
    import html
    import re

    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", text)


def static_html(questions: tuple[Question, ...] = QUESTIONS) -> str:
    """The quiz for a reader without a kernel (the course site): every question with its
    options, and the answer with every option's explanation folded below it."""
    import html

    parts = ["<div class='workbook-quiz'>"]
    for number, item in enumerate(questions, 1):
        letters = "ABCDEFGH"
        options = "".join(f"<li>{_html(o.text)}</li>" for o in item.options)
        explained = "".join(
            f"<li><b>{letters[i]}</b> {'(right)' if o.correct else '(not quite)'}: {_html(o.feedback)}</li>"
            for i, o in enumerate(item.options))
        parts.append(
            f"<div class='quiz-question' id='quiz-{html.escape(item.id)}'>"
            f"<p><b>{number}. {_html(item.prompt)}</b></p>"
            f"<ol class='quiz-options' type='A'>{options}</ol>"
            f"<details class='quiz-answer'><summary>Answer and explanations</summary>"
            f"<p>The right answer: <b>{letters[item.answer_index]}</b>, {_html(item.answer.text)}</p>"
            f"<ul>{explained}</ul></details></div>")
    parts.append("</div>")
    return "".join(parts)


def static_text(questions: tuple[Question, ...] = QUESTIONS) -> str:
    """The quiz for a reader that shows only text: the questions and their options, no answers."""
    from ..widgets._common import STATIC_NOTE

    lines = []
    for number, item in enumerate(questions, 1):
        lines.append(f"{number}. {item.prompt}")
        lines += [f"   {letter}. {o.text}" for letter, o in zip("ABCDEFGH", item.options)]
    lines.append(f"(The questions only: the answers and their explanations are in the HTML view. {STATIC_NOTE})")
    return "\n".join(lines)


def quiz_widget(questions: tuple[Question, ...] = QUESTIONS, state: QuizState | None = None):
    """An ipywidgets quiz: a radio group, a *Check* button and feedback per question.

    Returns ``(widget, state, controls)``; ``controls[question_id]`` is ``(radio, button)`` so
    code (and tests) can answer the way a student clicks.
    """
    import ipywidgets as widgets

    state = state or QuizState(tuple(questions))
    score = widgets.HTML(f"<b>Score:</b> {state.summary()}")
    boxes, controls = [], {}
    for number, item in enumerate(questions, 1):
        radio = widgets.RadioButtons(options=[o.text for o in item.options], value=None,
                                     layout=widgets.Layout(width="auto"))
        button = widgets.Button(description="Check", button_style="primary")
        feedback = widgets.HTML()

        def on_click(_button, item=item, radio=radio, feedback=feedback):
            if radio.value is None:
                feedback.value = "<i>Pick an answer first.</i>"
                return
            result = state.answer(item.id, radio.value)
            colour = "green" if result.correct else "#b00"
            text = f"<span style='color:{colour}'><b>{'Right' if result.correct else 'Not quite'}.</b></span> "
            text += _html(result.feedback)
            if not result.correct:
                text += f"<br><b>The right answer:</b> {_html(result.right_answer)}"
            feedback.value = text
            score.value = f"<b>Score:</b> {state.summary()}"

        button.on_click(on_click)
        controls[item.id] = (radio, button)
        boxes.append(widgets.VBox([widgets.HTML(f"<b>{number}. {_html(item.prompt)}</b>"),
                                   radio, button, feedback],
                                  layout=widgets.Layout(margin="0 0 16px 0")))
    class QuizBox(widgets.VBox):
        """The live quiz; without a kernel its output shows ``static_html`` instead."""

        def _repr_mimebundle_(self, **kwargs):
            from ..widgets._common import static_bundle

            bundle = static_bundle(super(), static_html(tuple(questions)), **kwargs)
            # A text-only reader cannot fold the answers away as the HTML view does: it gets the
            # questions alone, so that printing the notebook gives no answer away.
            bundle["text/plain"] = static_text(tuple(questions))
            return bundle

    return QuizBox([*boxes, score]), state, controls
