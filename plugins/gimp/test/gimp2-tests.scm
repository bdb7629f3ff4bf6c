; Script-Fu (GIMP 2.10) side of the plug-in tests: the tests are in common-tests.scm (loaded
; first); here is how GIMP 2.10 does what they need, and the tests only 2.10 has.

(define ns-u8 PRECISION-U8-GAMMA)

(define (ns-width d) (car (gimp-drawable-width d)))
(define (ns-height d) (car (gimp-drawable-height d)))
(define (ns-offsets d) (gimp-drawable-offsets d))

(define (ns-png img drawable name)
  (file-png-save2 RUN-NONINTERACTIVE img drawable (ns-path name) name 0 9 0 0 0 0 0 0 0))

(define (ns-layer-count img) (car (gimp-image-get-layers img)))

(define (ns-layers img) (vector->list (cadr (gimp-image-get-layers img))))

; The style: an orange and blue checkerboard of 4-pixel squares.
(define (ns-make-style)
  (let* ((img (car (gimp-image-new 40 40 RGB)))
         (lay (car (gimp-layer-new img 40 40 RGB-IMAGE "style" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img lay 0 0)
    (gimp-context-set-foreground '(240 170 30))
    (gimp-context-set-background '(20 60 200))
    (plug-in-checkerboard RUN-NONINTERACTIVE img lay 0 4)
    (ns-png img lay "style.png")
    (gimp-image-delete img)))

; A content image: plasma (seeded) on a layer of w x h at (x, y) in an image of iw x ih.
(define (ns-make-content type precision iw ih w h x y)
  (let* ((img (car (gimp-image-new-with-precision iw ih
                                                   (if (= type GRAY) GRAY RGB) precision)))
         (ltype (if (= type GRAY) GRAY-IMAGE RGB-IMAGE))
         (lay (car (gimp-layer-new img w h ltype "source" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img lay 0 0)
    (gimp-layer-set-offsets lay x y)
    (plug-in-plasma RUN-NONINTERACTIVE img lay 7 3.0)
    (list img lay)))

(define (ns-call img lay style iters)
  (plug-in-nstyle RUN-NONINTERACTIVE img lay style 0 iters 5.0 100.0 0.01 0))

; plug-in-nstyle2: every argument, strength and backbone too.
;; One call at working size `size` (0: the layer's own).
(define (ns-call-size img lay style size iters)
  (plug-in-nstyle RUN-NONINTERACTIVE img lay style size iters 5.0 100.0 0.01 0))

(define (ns-call-all img lay style iters strength backbone)
  (plug-in-nstyle2 RUN-NONINTERACTIVE img lay style 0 iters 5.0 100.0 0.01 0 strength backbone))

; plug-in-nstyle3: every argument; region-mode `mode`, strength 1, the default backbone.
(define (ns-call-mode img lay style mode region outside iters)
  (plug-in-nstyle3 RUN-NONINTERACTIVE img lay style 0 iters 5.0 100.0 0.01 0 1.0 "" mode region
                   outside))

; plug-in-nstyle4: every argument; strength 1, the default backbone, no regions, `device`.
(define (ns-call-device img lay style iters device)
  (plug-in-nstyle4 RUN-NONINTERACTIVE img lay style 0 iters 5.0 100.0 0.01 0 1.0 "" 0 -1 ""
                   device))

; --- tests only GIMP 2.10 has ---------------------------------------------------------------

; The arguments as the PDB lists them: type, name and description (which carries the
; library's accepted values and default: GIMP 2.10's PDB has no ranges or defaults).
(define (ns-test-registered)
  (let ((info (gimp-procedural-db-proc-info "plug-in-nstyle")))
    (ns-fact "reg-exists" (car (gimp-procedural-db-proc-exists "plug-in-nstyle")))
    (ns-fact "reg-nargs" (list-ref info 6))
    (ns-fact "reg-nvals" (list-ref info 7))
    (let loop ((i 0))
      (if (< i (list-ref info 6))
          (let ((arg (gimp-procedural-db-proc-arg "plug-in-nstyle" i)))
            (ns-fact "reg-arg" i (car arg) (cadr arg))
            (ns-fact (string-append "reg-desc-" (number->string i)) (list-ref arg 2))
            (loop (+ i 1)))))
    (let ((val (gimp-procedural-db-proc-val "plug-in-nstyle" 0)))
      (ns-fact "reg-val" 0 (car val) (cadr val))))
  (let ((info (gimp-procedural-db-proc-info "plug-in-nstyle2")))
    (let loop ((i 0))
      (if (< i (list-ref info 6))
          (let ((arg (gimp-procedural-db-proc-arg "plug-in-nstyle2" i)))
            (ns-fact "reg2-arg" i (car arg) (cadr arg))
            (ns-fact (string-append "reg2-desc-" (number->string i)) (list-ref arg 2))
            (loop (+ i 1))))))
  (let ((info (gimp-procedural-db-proc-info "plug-in-nstyle3")))
    (let loop ((i 0))
      (if (< i (list-ref info 6))
          (let ((arg (gimp-procedural-db-proc-arg "plug-in-nstyle3" i)))
            (ns-fact "reg3-arg" i (car arg) (cadr arg))
            (loop (+ i 1))))))
  (let ((info (gimp-procedural-db-proc-info "plug-in-nstyle4")))
    (let loop ((i 0))
      (if (< i (list-ref info 6))
          (let ((arg (gimp-procedural-db-proc-arg "plug-in-nstyle4" i)))
            (ns-fact "reg4-arg" i (car arg) (cadr arg))
            (ns-fact (string-append "reg4-desc-" (number->string i)) (list-ref arg 2))
            (loop (+ i 1)))))))

; RUN-WITH-LAST-VALS: the values of the last run, no dialog (there is no display here).
(define (ns-test-last-vals)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-call img lay ns-style 2)
    (let ((new (car (plug-in-nstyle RUN-WITH-LAST-VALS img lay "" 0 0 0 0 0 0))))
      (ns-fact "lastvals-layers-after" (ns-layer-count img))
      (ns-fact "lastvals-name" (car (gimp-item-get-name new))))))

; A value out of the engine's range (GIMP 2.10's PDB has no ranges to refuse it): an execution
; error with the engine's message, and no new layer.
(define (ns-test-out-of-range)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-fact "range-result" (if (catch #f (ns-call img lay ns-style 2000000)) "success" "failed"))
    (ns-fact "range-layers-after" (ns-layer-count img))))
