-- A recipient's chat address (`NAME` or `NAME:TARGET`, NAME a provider of
-- channels.chat), beside its email, phone and webhook URL.
ALTER TABLE recipients ADD COLUMN chat TEXT;
