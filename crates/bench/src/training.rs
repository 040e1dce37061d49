//! `mamori-bench training` (issue 18, item 2): the training overview — every course with who
//! owes it and everyone overdue — for 5,000 people. No target is named in the issue; the
//! listing reads every person, pass and assignment at once, so it is measured here beside the
//! policies' status (same shape, same 200 ms budget).
//!
//! A real server runs the demo. Through the store, the benchmark adds N people (nine in ten
//! operators), C courses through the core (onboarding, annual, topic in turn, five questions
//! each), an assignment of each course for every person it is for (a tenth of them overdue),
//! and passing attempts for about 80 % of them. Then, one request at a time over loopback with
//! an API token, it times `GET /api/v1/isms/training`, an operator's `GET /api/v1/training`,
//! the core call without HTTP, and the console's `/isms/training`.

use crate::Backend;
use crate::console::{Session, percentile};
use crate::isms::{load_average, row, time_rounds};
use anyhow::Context;
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::training::{CourseInput, CourseKind, Question};
use mamori_domain::{Clock, Permission, Role, SystemClock, UnixMillis};
use mamori_server::config::ServerConfig;
use mamori_store::{TrainingAssignmentRecord, TrainingAttemptRecord, UserRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub backend: Backend,
    pub postgres: String,
    pub users: usize,
    pub courses: usize,
    pub rounds: usize,
}

const BATCH: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

pub async fn run(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse()?;
    config.signin_burst = 10_000;
    let mut drop_db = None;
    if o.backend == Backend::Postgres {
        let (url, name) = crate::scratch_postgres(&o.postgres).await?;
        config.database_url = Some(url);
        drop_db = Some(name);
    }
    let running = mamori_server::serve::start(config, Arc::new(SystemClock), true).await?;
    let base = format!("http://{}", running.addr());
    let core = running.state.core.clone();
    let result = measure(&o, &core, &base).await;
    running.shutdown().await;
    if let Some(name) = drop_db {
        crate::drop_postgres(&o.postgres, &name).await?;
    }
    result
}

fn day(ms: i64) -> String {
    UnixMillis(ms + 9 * 3_600_000).rfc3339()[..10].to_owned()
}

async fn measure(o: &Options, core: &mamori_core::Core, base: &str) -> anyhow::Result<()> {
    let backend = if o.backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
    let ctx = RequestContext::default();
    let admin = core.store().read().await?.user_by_username("demo-admin01").await?.context("demo-admin01")?;
    let admin = Principal::direct(&admin, Vec::new());
    let now = SystemClock.now();

    let started = Instant::now();
    let people: Vec<UserRecord> = (0..o.users)
        .map(|i| {
            let role = if i % 10 == 9 { Role::Supervisor } else { Role::Operator };
            UserRecord::new(
                uuid::Uuid::new_v4().to_string(),
                format!("bench-{i:05}"),
                format!("ベンチ 利用者 {i:05}"),
                vec![role],
                UserStatus::Active,
                now,
            )
        })
        .collect();
    for chunk in people.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for u in chunk {
            tx.insert_user(u).await?;
        }
        tx.commit().await?;
    }
    eprintln!("{backend}: added {} people in {:.1} s", o.users, started.elapsed().as_secs_f64());

    let started = Instant::now();
    let question = |n: usize| Question {
        text: format!("質問 {n}"),
        choices: vec!["はい".into(), "いいえ".into(), "わからない".into()],
        answer: 0,
    };
    let mut courses = Vec::new();
    for c in 0..o.courses {
        let kind = CourseKind::ALL[c % CourseKind::ALL.len()];
        let input = CourseInput {
            kind,
            title: format!("ベンチ研修 {c:02}"),
            title_en: String::new(),
            summary: String::new(),
            summary_en: String::new(),
            body: "# ベンチ研修\n\n席を離れるときは画面をロックします。\n".into(),
            pass_mark: 80,
            roles: if c.is_multiple_of(2) { vec![] } else { vec![Role::Operator] },
            due_days: 14,
            questions: (0..5).map(question).collect(),
        };
        courses.push((core.isms.create_training_course(&admin, input, &ctx).await?, c.is_multiple_of(2)));
    }
    // An assignment of each course for everyone it is for (a tenth due a week ago), and a pass
    // for about 80 % of them after it.
    let mut assignments = Vec::new();
    let mut attempts = Vec::new();
    for (c, (course, everyone)) in courses.iter().enumerate() {
        for (i, u) in people.iter().enumerate() {
            if !everyone && u.roles[0] != Role::Operator {
                continue;
            }
            let overdue = (i + c).is_multiple_of(10);
            let at = if overdue { now.0 - 21 * DAY_MS } else { now.0 - DAY_MS };
            assignments.push(TrainingAssignmentRecord {
                id: uuid::Uuid::new_v4().to_string(),
                course_id: course.clone(),
                user_id: u.id.clone(),
                reason: "manual".into(),
                incident_id: None,
                assigned_at: UnixMillis(at),
                assigned_by: "system".into(),
                due_on: day(if overdue { now.0 - 7 * DAY_MS } else { now.0 + 13 * DAY_MS }),
            });
            if !overdue && (i * 7 + c) % 10 < 8 {
                attempts.push(TrainingAttemptRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    course_id: course.clone(),
                    user_id: u.id.clone(),
                    submitted_at: now,
                    correct: 5,
                    total: 5,
                    score: 100,
                    pass_mark: 80,
                    passed: true,
                    answers: "[0,0,0,0,0]".into(),
                });
            }
        }
    }
    for chunk in assignments.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for a in chunk {
            tx.insert_training_assignment(a).await?;
        }
        tx.commit().await?;
    }
    for chunk in attempts.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for a in chunk {
            tx.insert_training_attempt(a).await?;
        }
        tx.commit().await?;
    }
    eprintln!(
        "{backend}: {} courses, {} assignments, {} passes in {:.1} s",
        o.courses,
        assignments.len(),
        attempts.len(),
        started.elapsed().as_secs_f64()
    );

    let token = core
        .identity
        .create_api_token(
            &admin,
            "training-bench",
            &[Permission::IsmsRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let mut operator = Principal::direct(&people[1], Vec::new());
    operator.permissions.insert(Permission::TokensManage);
    let op_token = core
        .identity
        .create_api_token(
            &operator,
            "training-bench-op",
            &[Permission::TrainingTake],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let api = reqwest::Client::new();
    let overview: serde_json::Value = api
        .get(format!("{base}/api/v1/isms/training"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let overdue = overview["overdue"].as_array().map_or(0, Vec::len);
    let owed: usize = overview["courses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["owed"].as_array().map_or(0, Vec::len))
        .sum();
    println!("\n{backend}: {} people, {} courses; {owed} owed, {overdue} overdue listed", o.users, o.courses);
    anyhow::ensure!(overdue > 0 && owed >= overdue, "the overview lists the overdue");

    let load_before = load_average();
    println!("\n| {backend} | size | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|");
    let paths: [(&str, &str, &String); 2] = [
        (
            "`GET /api/v1/isms/training` (every course, who owes it, everyone overdue)",
            "/api/v1/isms/training",
            &token,
        ),
        ("`GET /api/v1/training` (an operator's own)", "/api/v1/training", &op_token),
    ];
    let mut worst = 0.0f64;
    for (what, path, bearer) in paths {
        match time_rounds(o.rounds, || api.get(format!("{base}{path}")).bearer_auth(bearer)).await? {
            Ok((times, bytes)) => {
                println!("{}", row(what, &times, bytes));
                worst = worst.max(percentile(&times, 95.0));
            }
            Err(status) => println!("| {what} | answered {status} | | | |"),
        }
    }
    let mut times = Vec::with_capacity(o.rounds);
    for round in 0..=o.rounds {
        let start = Instant::now();
        let overview = core.isms.training_overview(&admin, &ctx).await?;
        if round > 0 {
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::ensure!(overview.courses.len() >= o.courses, "the overview is short");
    }
    times.sort_by(f64::total_cmp);
    println!("{}", row("core `isms.training_overview` (no HTTP, no JSON)", &times, 0));
    let session = Session::sign_in(base, "demo-admin01").await?;
    match time_rounds(o.rounds, || session.client.get(format!("{base}/isms/training"))).await? {
        Ok((times, bytes)) => println!("{}", row("`GET /isms/training` (console page)", &times, bytes)),
        Err(status) => println!("| `GET /isms/training` (console page) | answered {status} | | | |"),
    }
    println!(
        "\n{backend}: worst API p95 {worst:.1} ms (budget ≤ 200 ms, as the policies' status); load average {load_before} before, {} after",
        load_average()
    );
    Ok(())
}
