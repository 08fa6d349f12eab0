"""Channel adapters: smtp (email), twilio (SMS and WhatsApp), outbox (the local channel that sends nothing)."""
