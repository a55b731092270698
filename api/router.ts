// The app router: one router per area, merged here. `AppRouter` is the type clients import.
import { z } from 'zod';
import { adminRouter } from './routers/admin';
import { annotationRouter } from './routers/annotation';
import { auditsRouter } from './routers/audits';
import { feedbackRouter } from './routers/feedback';
import { gatesRouter } from './routers/gates';
import { modelsRouter } from './routers/models';
import { reportsRouter } from './routers/reports';
import { reviewRouter } from './routers/review';
import { runsRouter } from './routers/runs';
import { trainersRouter } from './routers/trainers';
import { servingRouter } from './routers/serving';
import { sessionRouter } from './routers/session';
import { webhooksRouter } from './routers/webhooks';
import { publicProcedure, router } from './trpc';

export const appRouter = router({
  health: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/health', tags: ['admin'], summary: 'Liveness', protect: false } })
    .input(z.strictObject({}).optional())
    .output(z.object({ ok: z.boolean() }))
    .query(() => ({ ok: true })),
  session: sessionRouter,
  models: modelsRouter,
  runs: runsRouter,
  feedback: feedbackRouter,
  annotation: annotationRouter,
  gates: gatesRouter,
  reports: reportsRouter,
  audits: auditsRouter,
  admin: adminRouter,
  webhooks: webhooksRouter,
  trainers: trainersRouter,
  serving: servingRouter,
  review: reviewRouter,
});

export type AppRouter = typeof appRouter;
