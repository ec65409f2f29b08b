-- The 2026 federal public holidays for Kuala Lumpur and Putrajaya, days in
-- lieu included (data/malaysia-public-holidays-2026.csv). Administrators edit
-- the table from here on: Islamic holidays move and are announced officially.

INSERT INTO holidays (day, name_ms, name_en) VALUES
    ('2026-01-01', 'Tahun Baru', 'New Year''s Day'),
    ('2026-02-01', 'Hari Thaipusam; Hari Wilayah Persekutuan', 'Thaipusam; Federal Territory Day'),
    ('2026-02-02', 'Cuti ganti Hari Thaipusam; Hari Wilayah Persekutuan', 'Thaipusam; Federal Territory Day (in lieu)'),
    ('2026-02-17', 'Tahun Baru Cina', 'Chinese New Year'),
    ('2026-02-18', 'Tahun Baru Cina (Hari Kedua)', 'Chinese New Year (second day)'),
    ('2026-03-07', 'Nuzul Al-Quran', 'Nuzul Al-Quran'),
    ('2026-03-21', 'Hari Raya Aidilfitri', 'Eid al-Fitr'),
    ('2026-03-22', 'Hari Raya Aidilfitri (Hari Kedua)', 'Eid al-Fitr (second day)'),
    ('2026-03-23', 'Cuti ganti Hari Raya Aidilfitri', 'Eid al-Fitr (in lieu)'),
    ('2026-05-01', 'Hari Pekerja', 'Labour Day'),
    ('2026-05-27', 'Hari Raya Haji', 'Eid al-Adha'),
    ('2026-05-31', 'Hari Wesak', 'Vesak Day'),
    ('2026-06-01', 'Hari Keputeraan Rasmi Seri Paduka Baginda Yang di-Pertuan Agong', 'Birthday of the Yang di-Pertuan Agong'),
    ('2026-06-02', 'Cuti ganti Hari Wesak', 'Vesak Day (in lieu)'),
    ('2026-06-17', 'Awal Muharram', 'Islamic New Year'),
    ('2026-08-25', 'Maulidur Rasul', 'Prophet Muhammad''s Birthday'),
    ('2026-08-31', 'Hari Kebangsaan', 'National Day'),
    ('2026-09-16', 'Hari Malaysia', 'Malaysia Day'),
    ('2026-11-08', 'Hari Deepavali', 'Deepavali'),
    ('2026-11-09', 'Cuti ganti Hari Deepavali', 'Deepavali (in lieu)'),
    ('2026-12-25', 'Hari Krismas', 'Christmas Day');
