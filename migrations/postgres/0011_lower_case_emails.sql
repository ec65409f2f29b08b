-- One spelling of an e-mail address: all lower case (the EmailAddress type
-- now lower-cases the whole address). A user whose lower-cased address is
-- already another user's keeps their spelling; `kuota serve` names them at
-- start so an administrator can merge or remove one.
UPDATE users SET email = lower(email)
WHERE email <> lower(email)
  AND NOT EXISTS (SELECT 1 FROM users other WHERE other.id <> users.id AND lower(other.email) = lower(users.email));
UPDATE developers SET email = lower(email) WHERE email <> lower(email);
