"""The module quiz: multiple-choice questions with feedback for every option.

Plain data and functions (``check``, ``QuizState``), unit-tested; ``quiz_widget`` wraps them in
ipywidgets for the notebook. Each question has exactly one right answer, and every option --
right or wrong -- explains itself, because a wrong answer is where the learning happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


QUESTIONS: tuple[Question, ...] = (
    Question("fine-tune-when", "When should you fine-tune a model instead of prompting or RAG?", (
        O("When the model needs up-to-date facts from your own documents.",
          "That is retrieval's job: RAG puts current documents in the prompt and changes the day "
          "they change; fine-tuning bakes in a snapshot and is a poor way to teach facts."),
        O("When you need consistent behaviour, output format or domain terminology that better "
          "prompts, few-shot examples and RAG did not achieve, and you have enough labelled examples.",
          "Yes. Fine-tuning changes *how* a model answers (style, format, jargon, a narrow task), "
          "and it pays off only once prompting and RAG are exhausted and you have the data.", True),
        O("At the start of every project, before trying any prompts.",
          "Prompting is minutes of work and RAG days; fine-tuning is weeks plus data and a serving "
          "plan. Start cheap and measure (notebook 08)."),
        O("When the answers are too long.",
          "Ask for shorter answers and set max_tokens: a prompt change, no training needed."),
    ), "fine-tuning"),
    Question("self-hosted-advantage", "What is the key advantage of self-hosted models?", (
        O("They are always cheaper than an API.",
          "Only above the break-even volume: an idle GPU still costs its hourly price, and cheap API "
          "models may never be beaten (notebook 07)."),
        O("Control: your data never leaves your infrastructure, and you decide the model version, "
          "the latency and the availability.",
          "Yes. Privacy and data residency are the reason most teams self-host; control over "
          "versions and latency comes with it.", True),
        O("They give better answers than frontier API models.",
          "Open-weight models are good, but the frontier is usually an API; self-hosting often trades "
          "some quality for control."),
        O("They need no setup or operations work.",
          "The opposite: GPUs, a serving stack, monitoring, updates and on-call are yours."),
    ), "self-hosting"),
    Question("provider-pattern", "Which pattern does the workbook's provider layer use?", (
        O("Singleton: one global client shared by the whole program.",
          "There is no single client: each provider builds its own, and you may hold several at once "
          "(the comparison races them)."),
        O("Observer: providers publish answers to subscribed listeners.",
          "Streams are async iterators the caller pulls from; nothing subscribes."),
        O("Protocol + Factory: a typing.Protocol says what a provider must do (chat, chat_stream); "
          "create_ai_provider builds the one the settings name.",
          "Yes. The Protocol is structural (any class with the two methods fits, no base class), and "
          "the factory turns configuration into an object, so switching provider is configuration.",
          True),
        O("A deep class hierarchy every provider must inherit from.",
          "A Protocol needs no inheritance: a student's class with just chat and chat_stream works "
          "everywhere. (Some built-ins share code by subclassing, but nothing requires it.)"),
    ), "abstraction"),
    Question("azure-404", "Azure OpenAI answers 404 DeploymentNotFound. What is the most likely cause?", (
        O("The deployment name in AI__AZURE_OPENAI_DEPLOYMENT is not the one created in Azure "
          "(often the model name was used instead).",
          "Yes. Azure routes by your deployment's name; copy it from the Deployments page.", True),
        O("The API key is wrong.", "A wrong key answers 401, not 404."),
        O("You sent too many requests.", "Too many requests answers 429 with Retry-After."),
        O("Azure OpenAI does not support streaming.", "It does, with the same SSE format as OpenAI."),
    ), "api services"),
    Question("bedrock-auth", "How does the workbook's bedrock provider authenticate?", (
        O("With AI__BEDROCK_API_KEY.", "There is no such setting: Bedrock uses AWS credentials."),
        O("Through the AWS credentials chain: environment variables, a profile or SSO session, or "
          "the role of the machine it runs on.",
          "Yes. boto3 finds credentials itself and signs each request (SigV4); on a laptop use an "
          "SSO profile, in AWS a role.", True),
        O("It needs no authentication inside a VPC.",
          "Every Bedrock request is signed, inside a VPC too."),
        O("With your AWS account's root password.", "Never use root credentials for applications."),
    ), "bedrock"),
    Question("inference-profile", "Bedrock says \"on-demand throughput isn't supported\" for a model. "
             "What do you change?", (
        O("Switch to another AWS region.", "The model may need a profile in every region it is offered."),
        O("Use the model's inference-profile id, e.g. us.anthropic.claude-... instead of anthropic.claude-...",
          "Yes. Newer models run only through cross-region inference profiles; the id gets a "
          "geography prefix.", True),
        O("Raise AI__MAX_RETRIES.", "Retrying cannot fix a request Bedrock rejects as invalid."),
        O("Buy provisioned throughput first.",
          "Possible but expensive and rarely needed: the inference profile is the on-demand route."),
    ), "bedrock"),
    Question("continuous-batching", "Why does vLLM serve many concurrent users per GPU better than a "
             "server that answers one request at a time?", (
        O("It uses a smaller model.", "Same model; the serving strategy is what differs."),
        O("Continuous batching: at every decoding step finished requests leave and new ones join the "
          "batch, and PagedAttention stores the KV cache in pages so many sequences fit in memory.",
          "Yes. Decoding is memory-bound, so a batch of sequences costs little more per step than one; "
          "throughput grows with concurrency until compute or memory runs out.", True),
        O("It caches every answer and replays it.",
          "Prefix caching reuses shared prompt prefixes, but answers are still generated."),
        O("It skips the attention computation for long prompts.", "Attention is computed; it is only stored better."),
    ), "self-hosting"),
    Question("small-model", "What can the bundled SmolLM2-135M do reliably in this workbook?", (
        O("Answer factual questions accurately.",
          "It gets some simple facts right but also invents answers (notebook 06 measures it)."),
        O("Follow strict output formats such as \"reply with the year only\".",
          "It mostly ignores such instructions and answers in a sentence; strict formats need "
          "constrained decoding or a bigger model."),
        O("Run the whole workbook offline: the plumbing, streaming, timing and simple tasks graded "
          "leniently.",
          "Yes. It is small enough to load in a fraction of a second on a CPU, which makes it ideal "
          "for offline demos and tests -- not for quality.", True),
        O("Replace a frontier model for customer-facing answers.", "Not at 135M parameters."),
    ), "small models"),
    Question("switch-provider", "How do you switch the workbook from Ollama to Azure OpenAI?", (
        O("Rewrite the calls with the Azure SDK.", "No code change is needed: that is what the abstraction is for."),
        O("Change AI__PROVIDER to azure_openai and set the AI__AZURE_OPENAI_* variables in .env.",
          "Yes. The factory reads the settings and builds the other provider; your code keeps "
          "calling chat and chat_stream.", True),
        O("Subclass OllamaProvider.", "Azure needs its own provider, which already exists."),
        O("Restart Jupyter with a different kernel.", "Kernels have nothing to do with providers."),
    ), "configuration"),
)


def question(question_id: str, questions: tuple[Question, ...] = QUESTIONS) -> Question:
    for item in questions:
        if item.id == question_id:
            return item
    raise KeyError(f"no question {question_id!r}; ids: {', '.join(q.id for q in questions)}")


def quiz_widget(questions: tuple[Question, ...] = QUESTIONS, state: QuizState | None = None):
    """An ipywidgets quiz: a radio group, a *Check* button and feedback per question.

    Returns ``(widget, state, controls)``; ``controls[question_id]`` is ``(radio, button)`` so
    code (and tests) can answer the way a student clicks.
    """
    import html

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
            text += html.escape(result.feedback)
            if not result.correct:
                text += f"<br><b>The right answer:</b> {html.escape(result.right_answer)}"
            feedback.value = text
            score.value = f"<b>Score:</b> {state.summary()}"

        button.on_click(on_click)
        controls[item.id] = (radio, button)
        boxes.append(widgets.VBox([widgets.HTML(f"<b>{number}. {html.escape(item.prompt)}</b>"),
                                   radio, button, feedback],
                                  layout=widgets.Layout(margin="0 0 16px 0")))
    return widgets.VBox([*boxes, score]), state, controls
