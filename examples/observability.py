from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from qwen_ci_tool import CodeInterpreter

provider = TracerProvider()  # pip install opentelemetry-sdk; in production: an OTLP exporter
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(provider)

with CodeInterpreter() as ci:  # key from DASHSCOPE_API_KEY
    ci.run("What is 123 to the power of 21?")  # prints the span "chat qwen3-max" as JSON
