-- E-invoicing (MyInvois) names the buyer by its LHDN tax identification
-- number and SST registration number ("NA" when not registered). Captured
-- at registration; companies registered before are asked to complete them.
ALTER TABLE developers ADD COLUMN tin TEXT;
ALTER TABLE developers ADD COLUMN sst_registration_no TEXT;
